package dev.quotaproxy.ledger.events;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.ledger.Ledger;
import dev.quotaproxy.ledger.LedgerEvent;
import dev.quotaproxy.ledger.LedgerEvent.BlobAdded;
import dev.quotaproxy.ledger.LedgerEvent.BlobRemoved;
import dev.quotaproxy.ledger.LedgerEvent.Rejected;
import dev.quotaproxy.ledger.support.LedgerDatabaseExtension;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Quota events as the ledger records them into their outbox, against a real Postgres: from the same batches, in
 * the same transaction, exactly once.
 */
class QuotaEventsLedgerTest {
  private static final Instant T = Instant.parse("2026-12-07T10:15:00Z");
  private static final long STREAM_MS = 1_796_000_000_000L;

  @RegisterExtension static final LedgerDatabaseExtension db = new LedgerDatabaseExtension(4);

  private Ledger ledger;
  private long seq;

  @BeforeEach
  void emptyTables() {
    ledger = new Ledger(db.pool());
  }

  private String id(String namespace) {
    return namespace + "/" + STREAM_MS + "-" + (seq++);
  }

  private Instant at() {
    return T.plusSeconds(seq);
  }

  private BlobAdded added(String repository, String digest, long size, String... scopes) {
    return new BlobAdded(id(repository.split("/")[0]), at(), repository, "alice", digest, size, List.of(scopes));
  }

  private BlobRemoved removed(String repository, String digest, long size, String... scopes) {
    return new BlobRemoved(id(repository.split("/")[0]), at(), repository, "alice", digest, size, List.of(scopes));
  }

  private Rejected rejected(String repository, String scope, String resource, String reason) {
    return new Rejected(id(repository.split("/")[0]), at(), repository, "bob", scope, resource, 2048, 900, 1000, reason);
  }

  private void apply(LedgerEvent... events) throws Exception {
    ledger.apply(List.of(events)).await(20, TimeUnit.SECONDS);
  }

  private List<Row> events() {
    List<Row> rows = new ArrayList<>();
    db.postgres().sql("select type, scope, occurred_at, payload::text as payload from quota_events order by id").forEach(rows::add);
    return rows;
  }

  private void limits(String scope, long hard, long soft) {
    db.postgres().sql("insert into scope_limits (scope, storage_hard, storage_soft) values ($1, $2, $3)", scope, hard, soft);
  }

  @Test
  void aRefusedPushIsOneQuotaExceededEvenWhenItsBatchIsDeliveredTwice() throws Exception {
    Rejected refusal = rejected("acme/app", "acme", "storage_bytes", "storage_limit");
    apply(refusal);
    apply(refusal);

    assertThat(events()).singleElement().satisfies(row -> {
      assertThat(row.getString("type")).isEqualTo("QUOTA_EXCEEDED");
      assertThat(row.getString("scope")).isEqualTo("acme");
      assertThat(new JsonObject(row.getString("payload"))).isEqualTo(new JsonObject().put("repository", "acme/app").put("user", "bob")
          .put("resource", "storage_bytes").put("requested", 2048).put("usage", 900).put("limit", 1000).put("reason", "storage_limit"));
    });
  }

  @Test
  void pushesRefusedWhileReadOnlyAreNoQuotaExceeded() throws Exception {
    apply(rejected("acme/app", "", "storage_bytes", "read_only"));

    assertThat(events()).isEmpty();
  }

  @Test
  void aSoftLimitGivesOneWarningPerCrossing() throws Exception {
    limits("acme", 100, 80);
    apply(added("acme/app", "sha256:a", 50, "acme", "acme/app"));
    assertThat(events()).as("below the soft limit").isEmpty();

    apply(added("acme/app", "sha256:b", 35, "acme", "acme/app"));
    assertThat(events()).singleElement().satisfies(row -> {
      assertThat(row.getString("type")).isEqualTo("QUOTA_WARNING");
      assertThat(row.getString("scope")).isEqualTo("acme");
      assertThat(new JsonObject(row.getString("payload"))).isEqualTo(new JsonObject().put("usage", 85).put("usage_before", 50)
          .put("soft_limit", 80).put("hard_limit", 100).put("percent_of_hard", 85.0));
    });

    apply(added("acme/app", "sha256:c", 5, "acme", "acme/app"));
    assertThat(events()).as("staying above").hasSize(1);

    apply(removed("acme/app", "sha256:b", 35, "acme", "acme/app"));
    assertThat(events()).as("going below").hasSize(1);

    // Up again and down and up once more, in one batch: two crossings.
    apply(added("acme/app", "sha256:d", 30, "acme", "acme/app"), removed("acme/app", "sha256:d", 30, "acme", "acme/app"),
        added("acme/app", "sha256:e", 40, "acme", "acme/app"));
    assertThat(events()).extracting(row -> row.getString("type")).containsExactly("QUOTA_WARNING", "QUOTA_WARNING", "QUOTA_WARNING");
    assertThat(events()).extracting(row -> new JsonObject(row.getString("payload")).getLong("usage")).containsExactly(85L, 85L, 95L);
  }

  @Test
  void egressRefusalsAreOneEventPerScopeAndWindow() throws Exception {
    db.postgres().sql("insert into scope_limits (scope, egress, egress_window_seconds) values ('eg', 1000, 86400)");
    apply(rejected("eg/x", "eg", "egress_bytes", "egress_limit"));
    apply(rejected("eg/x", "eg", "egress_bytes", "egress_limit"), rejected("eg/y", "eg", "egress_bytes", "egress_limit"));

    assertThat(events()).singleElement().satisfies(row -> {
      assertThat(row.getString("type")).isEqualTo("EGRESS_LIMITED");
      JsonObject data = new JsonObject(row.getString("payload"));
      assertThat(data.getLong("window_seconds")).isEqualTo(86_400);
      assertThat(data.getString("window_start")).isEqualTo("2026-12-07T00:00:00Z");
      assertThat(data.getString("repository")).isEqualTo("eg/x");
    });
  }

  @Test
  void theSystemSwitchIsAnnouncedOncePerFlip() throws Exception {
    db.postgres().sql("insert into system_settings (id, hard_storage, write_ratio) values (1, 1000, 0.9)");
    SystemSwitch.check(db.pool()).await(20, TimeUnit.SECONDS);
    assertThat(events()).as("writable from the start: nothing to announce").isEmpty();

    apply(added("acme/app", "sha256:a", 950, "acme", "acme/app"));
    SystemSwitch.check(db.pool()).await(20, TimeUnit.SECONDS);
    SystemSwitch.check(db.pool()).await(20, TimeUnit.SECONDS);
    assertThat(events()).singleElement().satisfies(row -> {
      assertThat(row.getString("type")).isEqualTo("READ_ONLY");
      assertThat(row.getString("scope")).isEmpty();
      assertThat(new JsonObject(row.getString("payload")).getLong("usage")).isEqualTo(950);
    });

    apply(removed("acme/app", "sha256:a", 950, "acme", "acme/app"));
    SystemSwitch.check(db.pool()).await(20, TimeUnit.SECONDS);
    assertThat(events()).extracting(row -> row.getString("type")).containsExactly("READ_ONLY", "WRITABLE");

    db.postgres().sql("update system_settings set read_only_forced = true where id = 1");
    SystemSwitch.check(db.pool()).await(20, TimeUnit.SECONDS);
    assertThat(events()).extracting(row -> row.getString("type")).containsExactly("READ_ONLY", "WRITABLE", "READ_ONLY");
    assertThat(new JsonObject(events().get(2).getString("payload")).getBoolean("forced")).isTrue();
  }

  @Test
  void concurrentChecksAnnounceAFlipOnce() throws Exception {
    db.postgres().sql("insert into system_settings (id, hard_storage, write_ratio, read_only_forced) values (1, -1, 1.0, true)");
    List<io.vertx.core.Future<Void>> checks = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      checks.add(SystemSwitch.check(db.pool()));
    }
    io.vertx.core.Future.join(checks).await(20, TimeUnit.SECONDS);

    assertThat(events()).extracting(row -> row.getString("type")).containsExactly("READ_ONLY");
  }
}
