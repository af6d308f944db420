package dev.quotaproxy.ledger.limits;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.config.SystemSettings;
import dev.quotaproxy.ledger.limits.Overcommit.Refusal;
import org.junit.jupiter.api.Test;

class OvercommitTest {
  private static final SystemSettings HARD_1000 = new SystemSettings(1000, 1.0, false, false, 30);

  @Test
  void aLimitThatMakesTheTopLevelSumExceedHardStorageIsRefusedWithTheNumbers() {
    assertThat(Overcommit.ofLimit(HARD_1000, 600, -1, 500)).contains(new Refusal(1100, 1000, 500));
    assertThat(Overcommit.ofLimit(HARD_1000, 600, -1, 400)).isEmpty();
    // Raising a scope's own limit counts the new value only, not the old one as well.
    assertThat(Overcommit.ofLimit(HARD_1000, 600, 300, 400)).isEmpty();
  }

  @Test
  void nothingIsRefusedWithOvercommitAllowedUnlimitedHardStorageOrAnUnlimitedScope() {
    assertThat(Overcommit.ofLimit(new SystemSettings(1000, 1.0, false, true, 30), 600, -1, 500)).isEmpty();
    assertThat(Overcommit.ofLimit(SystemSettings.DEFAULTS, 600, -1, 5_000_000)).isEmpty();
    assertThat(Overcommit.ofLimit(HARD_1000, 2000, 100, -1)).isEmpty();
  }

  @Test
  void anAlreadyOvercommittedSystemMayBeBroughtDownButNotUp() {
    assertThat(Overcommit.ofLimit(HARD_1000, 1500, 500, 400)).isEmpty();
    assertThat(Overcommit.ofLimit(HARD_1000, 1500, 500, 600)).contains(new Refusal(2100, 1000, 600));
  }

  @Test
  void settingsThatOvercommitAreRefusedOnlyWhenTheyMakeItWorse() {
    SystemSettings unlimited = SystemSettings.DEFAULTS;
    assertThat(Overcommit.ofSettings(unlimited, HARD_1000, 1200)).contains(new Refusal(1200, 1000, 1000));
    assertThat(Overcommit.ofSettings(unlimited, HARD_1000, 1000)).isEmpty();
    SystemSettings allowed = new SystemSettings(1000, 1.0, false, true, 30);
    assertThat(Overcommit.ofSettings(unlimited, allowed, 1200)).isEmpty();
    // Turning overcommit off while overcommitted is refused: it would promise what is not there.
    assertThat(Overcommit.ofSettings(allowed, HARD_1000, 1200)).isPresent();
    // Already overcommitted: other settings may change, hard storage may rise, but not fall.
    SystemSettings ratio = new SystemSettings(1000, 0.9, false, false, 30);
    assertThat(Overcommit.ofSettings(HARD_1000, ratio, 1200)).isEmpty();
    assertThat(Overcommit.ofSettings(HARD_1000, new SystemSettings(1100, 1.0, false, false, 30), 1200)).isEmpty();
    assertThat(Overcommit.ofSettings(HARD_1000, new SystemSettings(900, 1.0, false, false, 30), 1200)).isPresent();
  }

  @Test
  void onlyScopesWithoutASlashAreTopLevel() {
    assertThat(Overcommit.topLevel("acme")).isTrue();
    assertThat(Overcommit.topLevel("acme/app")).isFalse();
  }
}
