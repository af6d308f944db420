package dev.quotaproxy.ledger.limits;

import static dev.quotaproxy.testing.Eventually.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.quotaproxy.config.Limits;
import dev.quotaproxy.config.SystemSettings;
import dev.quotaproxy.ledger.limits.LimitsLedger.AuditEntry;
import dev.quotaproxy.ledger.limits.Overcommit.OvercommitException;
import dev.quotaproxy.ledger.support.TestPostgres;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Limits, settings and their audit entries in a real Postgres. */
class LimitsLedgerTest {
  static TestPostgres postgres;
  static Vertx vertx;
  static LimitsLedger ledger;

  @BeforeAll
  static void start() {
    postgres = TestPostgres.start();
    vertx = Vertx.vertx();
    ledger = new LimitsLedger(postgres.database().pool(vertx, 4));
  }

  @AfterAll
  static void stop() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
    postgres.close();
  }

  @BeforeEach
  void empty() {
    postgres.truncateAll();
  }

  @Test
  void aChangeIsRecordedWithItsAuditEntryWhoBeforeAndAfter() throws Exception {
    var first = await(ledger.putLimits("acme", new Limits(1000, 800, -1, 3600), "ops"));
    assertThat(first.before()).isNull();
    var second = await(ledger.putLimits("acme", new Limits(2000, -1, 50, 60), "alice"));
    assertThat(second.before().limits()).isEqualTo(new Limits(1000, 800, -1, 3600));
    assertThat(second.after().updatedBy()).isEqualTo("alice");
    assertThat(second.after().revision()).isGreaterThan(first.after().revision());
    assertThat(await(ledger.limits("acme")).orElseThrow().limits()).isEqualTo(new Limits(2000, -1, 50, 60));

    var page = await(ledger.audit(null, null, 0, 10));
    assertThat(page.total()).isEqualTo(2);
    AuditEntry newest = page.entries().get(0);
    assertThat(newest.actor()).isEqualTo("alice");
    assertThat(newest.action()).isEqualTo("limits.put");
    assertThat(newest.subject()).isEqualTo("acme");
    assertThat(newest.before().getLong("storage_hard")).isEqualTo(1000);
    assertThat(newest.after().getLong("storage_hard")).isEqualTo(2000);
    assertThat(page.entries().get(1).before()).isNull();
    assertThat(await(ledger.audit(null, null, 1, 10)).entries()).hasSize(1);
    assertThat(await(ledger.audit(newest.at().plusSeconds(1), null, 0, 10)).entries()).isEmpty();
  }

  @Test
  void anOvercommittingTopLevelLimitIsRefusedInTheTransactionAndNothingIsWritten() throws Exception {
    await(ledger.updateSettings(s -> new SystemSettings(1000, 1.0, false, false, 30), "ops"));
    await(ledger.putLimits("acme", new Limits(600, -1, -1, 3600), "ops"));
    await(ledger.putLimits("acme/app", new Limits(900, -1, -1, 3600), "ops")); // not top level: not summed

    assertThatThrownBy(() -> await(ledger.putLimits("globex", new Limits(500, -1, -1, 3600), "ops")))
        .isInstanceOf(OvercommitException.class)
        .hasMessageContaining("1100 bytes").hasMessageContaining("1000 bytes")
        .satisfies(e -> assertThat(((OvercommitException) e).refusal()).isEqualTo(new Overcommit.Refusal(1100, 1000, 500)));
    assertThat(await(ledger.limits("globex"))).isEmpty();

    assertThatThrownBy(() -> await(ledger.updateSettings(s -> new SystemSettings(500, 1.0, false, false, 30), "ops")))
        .isInstanceOf(OvercommitException.class);
    await(ledger.updateSettings(s -> new SystemSettings(s.hardStorage(), s.writeRatio(), false, true, 30), "ops"));
    assertThat(await(ledger.putLimits("globex", new Limits(500, -1, -1, 3600), "ops")).after().limits().storageHard()).isEqualTo(500);
  }

  @Test
  void concurrentLimitsCannotJointlyOvercommit() throws Exception {
    await(ledger.updateSettings(s -> new SystemSettings(1000, 1.0, false, false, 30), "ops"));
    List<Future<?>> all = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      all.add(ledger.putLimits("ns" + i, new Limits(300, -1, -1, 3600), "ops").otherwiseEmpty());
    }
    Future.join(all).await(30, TimeUnit.SECONDS);
    assertThat(postgres.sql("select sum(storage_hard) from scope_limits").iterator().next().getLong(0)).isEqualTo(900);
  }

  @Test
  void removingKeepsAnUnlimitedRowByTheActorThatTheFileDoesNotOverwrite() throws Exception {
    await(ledger.seedConfiguration(Map.of("acme", new Limits(100, -1, -1, 3600), "globex", new Limits(200, -1, -1, 3600)),
        new SystemSettings(-1, 1.0, false, false, 30)));
    assertThat(await(ledger.removeLimits("acme", "ops"))).isPresent();
    assertThat(await(ledger.removeLimits("acme", "ops"))).as("nothing left to remove").isEmpty();
    await(ledger.putLimits("globex", new Limits(999, -1, -1, 3600), "ops"));

    await(ledger.seedConfiguration(Map.of("acme", new Limits(100, -1, -1, 3600), "globex", new Limits(200, -1, -1, 3600),
        "initech", new Limits(300, -1, -1, 3600)), new SystemSettings(-1, 1.0, false, false, 30)));

    assertThat(await(ledger.limits("acme")).orElseThrow().limits()).isEqualTo(Limits.UNLIMITED);
    assertThat(await(ledger.limits("globex")).orElseThrow().limits().storageHard()).isEqualTo(999);
    assertThat(await(ledger.limits("initech")).orElseThrow().updatedBy()).isEqualTo("configuration");
    assertThat(await(ledger.audit(null, null, 0, 100)).entries()).extracting(AuditEntry::action)
        .containsExactly("limits.configure", "limits.put", "limits.delete", "system.configure", "limits.configure", "limits.configure");
  }

  @Test
  void settingsStartAsDefaultsAndTheFileOwnsThemUntilAnAdminChangesThem() throws Exception {
    assertThat(await(ledger.settings()).settings()).isEqualTo(SystemSettings.DEFAULTS);
    await(ledger.seedConfiguration(Map.of(), new SystemSettings(5000, 0.9, false, false, 7)));
    assertThat(await(ledger.settings()).settings()).isEqualTo(new SystemSettings(5000, 0.9, false, false, 7));
    var change = await(ledger.updateSettings(s -> new SystemSettings(s.hardStorage(), s.writeRatio(), true, s.allowOvercommit(),
        s.retentionDays()), "ops"));
    assertThat(change.before().settings().readOnlyForced()).isFalse();
    assertThat(change.after().updatedBy()).isEqualTo("ops");
    await(ledger.seedConfiguration(Map.of(), new SystemSettings(1, 0.5, false, false, 1)));
    assertThat(await(ledger.settings()).settings()).isEqualTo(new SystemSettings(5000, 0.9, true, false, 7));
  }
}
