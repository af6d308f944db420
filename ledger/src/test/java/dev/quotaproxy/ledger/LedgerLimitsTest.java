package dev.quotaproxy.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.ledger.Ledger.ScopeLimitsRow;
import dev.quotaproxy.ledger.support.TestPostgres;
import io.vertx.core.Vertx;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class LedgerLimitsTest {
  static TestPostgres postgres;
  static Vertx vertx;
  static Ledger ledger;

  @BeforeAll
  static void start() {
    postgres = TestPostgres.start();
    vertx = Vertx.vertx();
    ledger = new Ledger(postgres.database().pool(vertx, 2));
  }

  @AfterAll
  static void stop() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
    postgres.close();
  }

  @Test
  void limitsAndSettingsAreRecordedWithWhoSetThemAndUpdatedInPlace() throws Exception {
    ledger.putLimits(List.of(new ScopeLimitsRow("acme", 1000, 800, -1, 3600)), 5000, 0.95, false, 30, "configuration")
        .await(10, TimeUnit.SECONDS);
    ledger.putLimits(List.of(new ScopeLimitsRow("acme", 2000, -1, 100, 60), new ScopeLimitsRow("acme/app", 10, -1, -1, 3600)),
        -1, 1.0, true, 7, "admin").await(10, TimeUnit.SECONDS);

    var acme = postgres.sql("select storage_hard, storage_soft, egress, egress_window_seconds, updated_by from scope_limits where scope = 'acme'")
        .iterator().next();
    assertThat(List.of(acme.getLong(0), acme.getLong(1), acme.getLong(2), acme.getLong(3))).containsExactly(2000L, -1L, 100L, 60L);
    assertThat(acme.getString(4)).isEqualTo("admin");
    assertThat(postgres.sql("select count(*) from scope_limits").iterator().next().getLong(0)).isEqualTo(2);
    var system = postgres.sql("select hard_storage, write_ratio, read_only_forced, retention_days from system_settings").iterator().next();
    assertThat(system.getLong(0)).isEqualTo(-1);
    assertThat(system.getDouble(1)).isEqualTo(1.0);
    assertThat(system.getBoolean(2)).isTrue();
    assertThat(system.getInteger(3)).isEqualTo(7);
  }

  @Test
  void theRedisEpochIsMadeOnceAndKept() throws Exception {
    String first = ledger.redisEpoch().await(10, TimeUnit.SECONDS);
    assertThat(ledger.redisEpoch().await(10, TimeUnit.SECONDS)).isEqualTo(first);
  }
}
