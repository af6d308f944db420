package dev.quotaproxy.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.ledger.LedgerEvent.BlobAdded;
import dev.quotaproxy.ledger.LedgerEvent.BlobRemoved;
import dev.quotaproxy.ledger.LedgerEvent.ManifestAdded;
import dev.quotaproxy.ledger.LedgerEvent.ManifestRemoved;
import dev.quotaproxy.ledger.support.LedgerDatabaseExtension;
import dev.quotaproxy.oci.Scopes;
import io.vertx.sqlclient.Row;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The ledger's counts (repositories holding anything, manifests) per scope, kept from the events as storage is:
 * the current counts in {@code scope_counts}, the most each reached per hour in {@code usage_hourly}.
 */
class LedgerCountsTest {
  private static final Instant H10 = Instant.parse("2026-03-01T10:00:00Z");
  private static final Instant H11 = H10.plus(Duration.ofHours(1));
  private static final Instant H12 = H10.plus(Duration.ofHours(2));
  private static final long STREAM_MS = 1_772_360_100_000L;

  @RegisterExtension static final LedgerDatabaseExtension db = new LedgerDatabaseExtension(4);

  private Ledger ledger;
  private long nextSeq;

  @BeforeEach
  void emptyTables() {
    ledger = new Ledger(db.pool());
  }

  @Test
  void countsFollowPushesAndDeletesOverSeveralHoursWithEachHoursHighWater() {
    // 10:xx: acme/team/app and acme/lib get their first blobs and a manifest each.
    apply(filled(H10, "acme/team/app", "sha256:a"), manifest(H10, "acme/team/app", "sha256:m1"),
        filled(H10, "acme/lib", "sha256:c"), manifest(H10, "acme/lib", "sha256:m2"));
    // 11:xx: a second blob (no count change) and a second manifest in acme/team/app.
    apply(blob(H11, "acme/team/app", "sha256:b"), manifest(H11, "acme/team/app", "sha256:m3"));
    // 12:xx: m1 deleted; acme/lib's manifest deleted and its last blob with it.
    apply(manifestGone(H12, "acme/team/app", "sha256:m1"), manifestGone(H12, "acme/lib", "sha256:m2"),
        emptied(H12, "acme/lib", "sha256:c"));

    assertThat(counts("acme")).isEqualTo(new CountsByScope(1, 1));
    assertThat(counts("acme/team")).isEqualTo(new CountsByScope(1, 1));
    assertThat(counts("acme/team/app")).isEqualTo(new CountsByScope(1, 1));
    assertThat(counts("acme/lib")).isEqualTo(new CountsByScope(0, 0));
    assertThat(ledger.namespaceCounts("acme").await()).as("the same as the links and manifests say")
        .isEqualTo(Map.of("acme", new CountsByScope(1, 1), "acme/team", new CountsByScope(1, 1),
            "acme/team/app", new CountsByScope(1, 1)));
    // acme: 10:xx 2 repositories, 2 manifests; 11:xx 3 manifests (its repositories did not change there: 0, and
    // reports carry 10:xx's close); 12:xx the levels before the deletes (2 repositories, 3 manifests) are the most it
    // held, and it closed at 1 and 1.
    assertThat(hourly("acme")).containsExactly(List.of(H10, 2L, 2L), List.of(H11, 0L, 3L), List.of(H12, 2L, 3L));
    assertThat(hourly("acme/lib")).containsExactly(List.of(H10, 1L, 1L), List.of(H12, 1L, 1L));
    assertThat(closes("acme")).containsExactly(java.util.Arrays.asList(H10, 2L, 2L), java.util.Arrays.asList(H11, null, 3L),
        java.util.Arrays.asList(H12, 1L, 1L));
    assertThat(closes("acme/lib")).containsExactly(java.util.Arrays.asList(H10, 1L, 1L), java.util.Arrays.asList(H12, 0L, 0L));
  }

  @Test
  void aRepositoryThatAppearsAndIsEmptiedWithinAnHourLeavesItsOneInThatHour() {
    apply(filled(H10.plusSeconds(60), "acme/tmp", "sha256:a"));
    apply(emptied(H10.plusSeconds(120), "acme/tmp", "sha256:a"));
    apply(filled(H10.plusSeconds(180), "acme/tmp2", "sha256:b"), emptied(H10.plusSeconds(240), "acme/tmp2", "sha256:b"));

    assertThat(counts("acme")).isEqualTo(new CountsByScope(0, 0));
    assertThat(hourly("acme")).as("across batches and within one").containsExactly(List.of(H10, 1L, 0L));
    assertThat(hourly("acme/tmp2")).containsExactly(List.of(H10, 1L, 0L));
  }

  @Test
  void countsNeverGoBelowZeroAndEventsFromBeforeTheUpgradeChangeNoRepositoryCount() {
    apply(emptied(H10, "acme/app", "sha256:x"), manifestGone(H10, "acme/app", "sha256:m"));
    assertThat(counts("acme")).isEqualTo(new CountsByScope(0, 0));

    // Written by a store that did not say filled: no repository change; its manifest still counts.
    apply(new BlobAdded(nextId("acme"), H10, "acme/app", "alice", "sha256:a", 10, List.of("acme", "acme/app")),
        manifest(H10, "acme/app", "sha256:m"));
    assertThat(counts("acme")).isEqualTo(new CountsByScope(0, 1));
  }

  @Test
  void aRedeliveredBatchCountsNothingTwice() {
    List<LedgerEvent> batch = List.of(filled(H10, "acme/app", "sha256:a"), manifest(H10, "acme/app", "sha256:m"));
    apply(batch.toArray(LedgerEvent[]::new));
    apply(batch.toArray(LedgerEvent[]::new));

    assertThat(counts("acme/app")).isEqualTo(new CountsByScope(1, 1));
  }

  @Test
  void eventsFromAnOlderRedisHaveTheirNamespacesCountsRecountedFromTheLinks() {
    BlobAdded a = filled(H10, "acme/app", "sha256:a");
    ledger.apply(List.of(a), Map.of(a.id(), 2L)).await();
    // An older Redis (numbering from 1 again) says acme/app was filled once more: not trusted, recounted.
    BlobAdded again = filled(H10, "acme/app", "sha256:b");
    BlobAdded other = filled(H10, "acme/other", "sha256:c");
    Applied applied = ledger.apply(List.of(again, other), Map.of(again.id(), 1L, other.id(), 2L)).await();

    assertThat(applied.olderRedis()).containsExactly("acme");
    assertThat(counts("acme")).as("two repositories link something, not three").isEqualTo(new CountsByScope(2, 0));
    assertThat(counts("acme/other")).isEqualTo(new CountsByScope(1, 0));
  }

  @Test
  void theMigrationCountsWhatTheLedgerAlreadyHolds() throws Exception {
    try (EmbeddedPostgresServer server = EmbeddedPostgresServer.start()) {
      LedgerDatabase database = server.database();
      Flyway.configure().dataSource(database.jdbcUrl(), database.user(), database.password())
          .locations("classpath:db/migration").target("11").load().migrate();
      try (Connection connection = DriverManager.getConnection(database.jdbcUrl(), database.user(), database.password());
          Statement statement = connection.createStatement()) {
        statement.execute("insert into blobs values ('sha256:a', 1), ('sha256:b', 1)");
        statement.execute("""
            insert into repository_blobs values ('acme/team/app', 'sha256:a', now()), ('acme/team/app', 'sha256:b', now()),
              ('acme/web', 'sha256:a', now()), ('beta/x', 'sha256:a', now())""");
        statement.execute("""
            insert into manifests values ('acme/team/app', 'sha256:m1', now(), 'a'), ('acme/team/app', 'sha256:m2', now(), 'a'),
              ('acme/web', 'sha256:m3', now(), 'a')""");
        database.migrate();
        List<String> counts = new ArrayList<>();
        try (ResultSet rows = statement.executeQuery("select scope, repositories, manifests from scope_counts order by scope")) {
          while (rows.next()) {
            counts.add(rows.getString(1) + " " + rows.getLong(2) + " " + rows.getLong(3));
          }
        }
        assertThat(counts).containsExactly("acme 2 3", "acme/team 1 2", "acme/team/app 1 2", "acme/web 1 1", "beta 1 0",
            "beta/x 1 0");
      }
    }
  }

  // ---- helpers -------------------------------------------------------------------------------------

  private void apply(LedgerEvent... events) {
    ledger.apply(Arrays.asList(events)).await();
  }

  private CountsByScope counts(String scope) {
    return ledger.scopeCounts(scope).await();
  }

  /** Hour, repositories and manifests high water of a scope's hourly rows. */
  /** Each hour's repositories and manifests close (null: that count did not change in the hour). */
  private static List<List<Object>> closes(String scope) {
    List<List<Object>> rows = new ArrayList<>();
    for (Row row : db.postgres().sql("""
        select hour, repositories_close, manifests_close from usage_hourly where scope = $1 order by hour""", scope)) {
      rows.add(java.util.Arrays.asList(row.getOffsetDateTime(0).toInstant(), row.getLong(1), row.getLong(2)));
    }
    return rows;
  }

  private static List<List<Object>> hourly(String scope) {
    List<List<Object>> rows = new ArrayList<>();
    for (Row row : db.postgres().sql("""
        select hour, repositories_high_water, manifests_high_water from usage_hourly where scope = $1 order by hour""", scope)) {
      rows.add(List.of(row.getOffsetDateTime(0).toInstant(), row.getLong(1), row.getLong(2)));
    }
    return rows;
  }

  private String nextId(String namespace) {
    return namespace + "/" + STREAM_MS + "-" + nextSeq++;
  }

  /** The repository's first link: charged in every scope of its path, and it counts from now on. */
  private BlobAdded filled(Instant at, String repository, String digest) {
    return new BlobAdded(nextId(Scopes.namespace(repository)), at, repository, "alice", digest, 10, Scopes.of(repository), true);
  }

  private BlobAdded blob(Instant at, String repository, String digest) {
    return new BlobAdded(nextId(Scopes.namespace(repository)), at, repository, "alice", digest, 10, Scopes.of(repository), false);
  }

  /** The repository's last link leaves it. */
  private BlobRemoved emptied(Instant at, String repository, String digest) {
    return new BlobRemoved(nextId(Scopes.namespace(repository)), at, repository, "alice", digest, 10, Scopes.of(repository), true);
  }

  private ManifestAdded manifest(Instant at, String repository, String digest) {
    return new ManifestAdded(nextId(Scopes.namespace(repository)), at, repository, "alice", digest, List.of());
  }

  private ManifestRemoved manifestGone(Instant at, String repository, String digest) {
    return new ManifestRemoved(nextId(Scopes.namespace(repository)), at, repository, "alice", digest);
  }
}
