package dev.quotaproxy.ledger.events;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.ledger.Ledger;
import dev.quotaproxy.ledger.LedgerEvent;
import dev.quotaproxy.ledger.LedgerEvent.BlobAdded;
import dev.quotaproxy.ledger.LedgerEvent.BlobRemoved;
import dev.quotaproxy.ledger.LedgerEvent.ManifestAdded;
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
      assertThat(new JsonObject(row.getString("payload"))).isEqualTo(new JsonObject().put("resource", "storage_bytes").put("usage", 85)
          .put("usage_before", 50).put("soft_limit", 80).put("hard_limit", 100).put("percent_of_hard", 85.0));
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

  /** Count soft limits warn as storage's do: once per crossing, each count on its own, named by its resource. */
  @Test
  void aCountSoftLimitGivesOneWarningPerCrossing() throws Exception {
    db.postgres().sql("insert into scope_limits (scope, repositories_hard, repositories_soft, manifests_soft) values ('acme', 3, 2, 1)");
    apply(filled("acme/a", "sha256:a"));
    assertThat(events()).as("one repository, below its soft limit of 2").isEmpty();

    // acme/b's first link fills it (2 repositories: the crossing); its second link and manifest change no repository count.
    apply(filled("acme/b", "sha256:b"), added("acme/b", "sha256:c", 10, "acme", "acme/b"),
        new ManifestAdded(id("acme"), at(), "acme/b", "alice", "sha256:c", List.of("sha256:b")));
    assertThat(events()).extracting(row -> row.getString("scope")).containsExactly("acme", "acme");
    assertThat(events()).extracting(row -> new JsonObject(row.getString("payload"))).containsExactly(
        new JsonObject().put("resource", "repositories").put("usage", 2).put("usage_before", 1).put("soft_limit", 2)
            .put("hard_limit", 3).put("percent_of_hard", 66.7),
        new JsonObject().put("resource", "manifests").put("usage", 1).put("usage_before", 0).put("soft_limit", 1).put("hard_limit", -1));
    assertThat(events()).extracting(row -> row.getString("type")).containsOnly("QUOTA_WARNING");

    apply(filled("acme/c", "sha256:d"));
    assertThat(events()).as("staying above").hasSize(2);
    apply(new BlobRemoved(id("acme"), at(), "acme/c", "alice", "sha256:d", 10, List.of("acme", "acme/c"), true),
        new BlobRemoved(id("acme"), at(), "acme/a", "alice", "sha256:a", 10, List.of("acme", "acme/a"), true));
    assertThat(events()).as("going below").hasSize(2);
    apply(filled("acme/d", "sha256:e"));
    assertThat(events()).as("crossing again").hasSize(3);
  }

  /** The first link of a repository: it holds something now. */
  private BlobAdded filled(String repository, String digest) {
    return new BlobAdded(id(repository.split("/")[0]), at(), repository, "alice", digest, 10, List.of("acme", repository), true);
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
