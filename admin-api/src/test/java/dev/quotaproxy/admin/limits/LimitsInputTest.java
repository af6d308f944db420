package dev.quotaproxy.admin.limits;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.quotaproxy.config.Limits;
import dev.quotaproxy.config.SystemSettings;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

class LimitsInputTest {
  private static final long GiB = 1L << 30;

  @Test
  void sizesAreBytesOrTextWithUnitsAndSoftMayBeAPercentOfHard() {
    assertThat(LimitsInput.limits(new JsonObject().put("storage_hard", "10G").put("storage_soft", "80%").put("egress", "500MiB")
        .put("egress_window", "1d"))).isEqualTo(new Limits(10 * GiB, 8 * GiB, 500L << 20, 86_400));
    assertThat(LimitsInput.limits(new JsonObject().put("storage_hard", 1000).put("storage_soft", 900)))
        .isEqualTo(new Limits(1000, 900, -1, 3600));
    assertThat(LimitsInput.limits(new JsonObject().put("storage_hard", "10GB"))).isEqualTo(new Limits(10_000_000_000L, -1, -1, 3600));
    assertThat(LimitsInput.limits(new JsonObject())).isEqualTo(Limits.UNLIMITED);
    assertThat(LimitsInput.limits(new JsonObject().put("storage_hard", -1).put("egress", "-1"))).isEqualTo(Limits.UNLIMITED);
  }

  @Test
  void badUnitsAndInconsistentLimitsAreRefusedNamingTheField() {
    assertThatThrownBy(() -> LimitsInput.limits(new JsonObject().put("storage_hard", "10 parsecs")))
        .hasMessageStartingWith("storage_hard '10 parsecs' must be a size like 500M");
    assertThatThrownBy(() -> LimitsInput.limits(new JsonObject().put("storage_hard", "1G").put("storage_soft", "2G")))
        .hasMessage("storage_soft must not exceed storage_hard: 2.0 GiB is more than 1.0 GiB");
    assertThatThrownBy(() -> LimitsInput.limits(new JsonObject().put("storage_soft", "80%")))
        .hasMessageContaining("percentage of storage_hard, which is unlimited");
    assertThatThrownBy(() -> LimitsInput.limits(new JsonObject().put("storage_hard", "1G").put("storage_soft", "120%")))
        .hasMessageContaining("storage_soft must be at most 100%");
    assertThatThrownBy(() -> LimitsInput.limits(new JsonObject().put("egress", 1.5))).hasMessageContaining("whole number of bytes");
    assertThatThrownBy(() -> LimitsInput.limits(new JsonObject().put("egress_window", "30s")))
        .hasMessageStartingWith("egress_window must be at least");
    assertThatThrownBy(() -> LimitsInput.limits(new JsonObject().put("storage_hard", "9PiB"))).hasMessageContaining("too large");
  }

  @Test
  void countLimitsAreWholeNumbersWithTheSoftOneAtMostTheHardOne() {
    assertThat(LimitsInput.limits(new JsonObject().put("repositories_hard", 10).put("repositories_soft", 8).put("manifests_hard", 100)
        .put("manifests_soft", -1))).isEqualTo(new Limits(-1, -1, -1, 3600, 10, 8, 100, -1));
    assertThat(LimitsInput.limits(new JsonObject().put("manifests_soft", 5))).isEqualTo(new Limits(-1, -1, -1, 3600, -1, -1, -1, 5));
    assertThat(LimitsInput.limits(new JsonObject().put("repositories_hard", 0)).repositoriesHard()).isZero();

    assertThatThrownBy(() -> LimitsInput.limits(new JsonObject().put("repositories_hard", 10).put("repositories_soft", 11)))
        .hasMessage("repositories_soft must not exceed the hard limit: 11 is more than 10");
    assertThatThrownBy(() -> LimitsInput.limits(new JsonObject().put("manifests_hard", 3).put("manifests_soft", 4)))
        .hasMessage("manifests_soft must not exceed the hard limit: 4 is more than 3");
    assertThatThrownBy(() -> LimitsInput.limits(new JsonObject().put("manifests_hard", 2.5)))
        .hasMessage("manifests_hard must be a whole number, -1 for unlimited");
    assertThatThrownBy(() -> LimitsInput.limits(new JsonObject().put("repositories_hard", -2)))
        .hasMessage("repositories_hard must be -1 (unlimited) or 0 to 9007199254740991");
    assertThatThrownBy(() -> LimitsInput.limits(new JsonObject().put("repositories_hard", "ten")))
        .hasMessage("repositories_hard must be a whole number, -1 for unlimited");
  }

  @Test
  void scopesFollowTheOciNameGrammar() {
    assertThat(LimitsInput.scope("acme/team-1/app")).isEqualTo("acme/team-1/app");
    assertThatThrownBy(() -> LimitsInput.scope("Acme")).hasMessageStartingWith("scope 'Acme' must be a repository name");
    assertThatThrownBy(() -> LimitsInput.scope("acme//app")).hasMessageStartingWith("scope 'acme//app'");
    assertThatThrownBy(() -> LimitsInput.scope("acme/")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void systemSettingsChangeOnlyTheFieldsGiven() {
    SystemSettings current = new SystemSettings(-1, 1.0, false, false, 30);
    assertThat(LimitsInput.system(current, new JsonObject().put("hard_storage", "1G").put("write_ratio", "95%")))
        .isEqualTo(new SystemSettings(GiB, 0.95, false, false, 30));
    assertThat(LimitsInput.system(current, new JsonObject().put("read_only", true).put("allow_overcommit", true).put("retention_days", 7)))
        .isEqualTo(new SystemSettings(-1, 1.0, true, true, 7));
    assertThatThrownBy(() -> LimitsInput.system(current, new JsonObject().put("write_ratio", "101%")))
        .hasMessage("write_ratio must be at most 100%");
    assertThatThrownBy(() -> LimitsInput.system(current, new JsonObject().put("write_ratio", "0%")))
        .hasMessage("write_ratio must be more than 0%");
    assertThatThrownBy(() -> LimitsInput.system(current, new JsonObject().put("hard_storage", "lots")))
        .hasMessageStartingWith("hard_storage 'lots' must be a size");
  }

  @Test
  void ratiosAreShownAsThePercentagesTheyWereGivenAs() {
    assertThat(LimitsInput.percent(0.95)).isEqualTo("95%");
    assertThat(LimitsInput.percent(1.0)).isEqualTo("100%");
    assertThat(LimitsInput.percent(0.995)).isEqualTo("99.5%");
  }
}
