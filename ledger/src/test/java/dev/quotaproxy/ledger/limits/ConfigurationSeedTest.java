package dev.quotaproxy.ledger.limits;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.config.Limits;
import dev.quotaproxy.config.SystemSettings;
import dev.quotaproxy.ledger.limits.ConfigurationSeed.Recorded;
import dev.quotaproxy.ledger.limits.ConfigurationSeed.Write;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ConfigurationSeedTest {
  private static final Limits TEN = new Limits(10, -1, -1, 3600);
  private static final Limits TWENTY = new Limits(20, -1, -1, 3600);

  @Test
  void theFileWritesNewScopesAndChangesOnlyTheRowsItOwns() {
    Map<String, Recorded> recorded = Map.of(
        "byfile", new Recorded(TEN, "configuration"),
        "byadmin", new Recorded(TEN, "ops"),
        "deleted", new Recorded(Limits.UNLIMITED, "ops"),
        "same", new Recorded(TEN, "configuration"));
    Map<String, Limits> configured = Map.of("byfile", TWENTY, "byadmin", TWENTY, "deleted", TWENTY, "same", TEN, "fresh", TEN);

    assertThat(ConfigurationSeed.scopes(recorded, configured)).containsExactly(
        new Write("byfile", TEN, TWENTY),
        new Write("fresh", null, TEN));
  }

  @Test
  void aScopeDroppedFromTheFileBecomesUnlimitedUnlessAnAdminOwnsIt() {
    Map<String, Recorded> recorded = Map.of("dropped", new Recorded(TEN, "configuration"), "kept", new Recorded(TEN, "ops"),
        "gone", new Recorded(Limits.UNLIMITED, "configuration"));
    assertThat(ConfigurationSeed.scopes(recorded, Map.of())).containsExactly(new Write("dropped", TEN, Limits.UNLIMITED));
  }

  @Test
  void systemSettingsFromTheFileApplyUntilAnAdminChangesThem() {
    SystemSettings file = new SystemSettings(1000, 0.9, false, false, 7);
    assertThat(ConfigurationSeed.system(null, "default", file)).isEqualTo(file);
    SystemSettings recorded = new SystemSettings(500, 1.0, false, true, 30);
    assertThat(ConfigurationSeed.system(recorded, "configuration", file)).isEqualTo(new SystemSettings(1000, 0.9, false, true, 7));
    assertThat(ConfigurationSeed.system(recorded, "ops", file)).isNull();
    assertThat(ConfigurationSeed.system(file, "configuration", file)).isNull();
  }
}
