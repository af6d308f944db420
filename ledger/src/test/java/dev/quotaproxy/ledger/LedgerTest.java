package dev.quotaproxy.ledger;

import dev.quotaproxy.oci.Scopes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.entry;

import dev.quotaproxy.ledger.Ledger.NamespaceSnapshot;
import dev.quotaproxy.ledger.Ledger.OpenIntent;
import dev.quotaproxy.ledger.Ledger.RepositorySnapshot;
import dev.quotaproxy.ledger.LedgerEvent.BlobAdded;
import dev.quotaproxy.ledger.LedgerEvent.BlobRemoved;
import dev.quotaproxy.ledger.LedgerEvent.IntentClosed;
import dev.quotaproxy.ledger.LedgerEvent.IntentOpened;
import dev.quotaproxy.ledger.LedgerEvent.ManifestAdded;
import dev.quotaproxy.ledger.LedgerEvent.ManifestRemoved;
import dev.quotaproxy.ledger.LedgerEvent.Rejected;
import dev.quotaproxy.ledger.LedgerEvent.TrafficMetered;
import dev.quotaproxy.ledger.support.LedgerDatabaseExtension;
import io.vertx.core.Future;
import io.vertx.sqlclient.Row;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class LedgerTest {
  private static final Instant T = Instant.parse("2026-03-01T10:15:00Z");
  private static final Instant HOUR = Instant.parse("2026-03-01T10:00:00Z");
  private static final long STREAM_MS = 1_772_360_100_000L;

  @RegisterExtension static final LedgerDatabaseExtension db = new LedgerDatabaseExtension(4);

  private Ledger ledger;
  private long nextSeq;

  @BeforeEach
  void emptyTables() {
    ledger = new Ledger(db.pool());
  }

  // ---- each event's effects -----------------------------------------------------------------------

  @Test
  void aBlobAddedIsLinkedAndChargedToTheScopesTheEventNames() {
    int applied = apply(added("acme/team/app", "sha256:a", 100, "acme", "acme/team", "acme/team/app"));

    assertThat(applied).isEqualTo(1);
    assertThat(rows("select digest, size from blobs")).containsExactly(List.of("sha256:a", 100L));
    assertThat(rows("select repository, digest, linked_at from repository_blobs"))
        .containsExactly(List.of("acme/team/app", "sha256:a", T));
    assertThat(ledger.namespaceUsage("acme").await())
        .containsExactly(entry("acme", 100L), entry("acme/team", 100L), entry("acme/team/app", 100L));
    assertThat(rows("select scope, hour, storage_high_water from usage_hourly order by scope")).containsExactly(
        List.of("acme", HOUR, 100L), List.of("acme/team", HOUR, 100L), List.of("acme/team/app", HOUR, 100L));
  }

  @Test
  void theHourlyHighWaterIsTheMostAScopeHeldInThatHour() {
    apply(added("acme/app", "sha256:a", 100, "acme", "acme/app"),
        added("acme/app", "sha256:b", 50, "acme", "acme/app"),
        removed("acme/app", "sha256:a", 100, "acme", "acme/app"));
    // Next hour: only a delete. The hour still held 50 until it.
    apply(removedAt(T.plus(Duration.ofHours(1)), "acme/app", "sha256:b", 50, "acme", "acme/app"));

    assertThat(rows("select hour, storage_high_water from usage_hourly where scope = 'acme' order by hour"))
        .containsExactly(List.of(HOUR, 150L), List.of(HOUR.plus(Duration.ofHours(1)), 50L));
    assertThat(ledger.scopeUsage("acme").await()).isZero();
  }

  /** When each link left its repository, kept for a restore of Redis's frees (see freed_since in common.lua). */
  @Test
  void aRemovedLinkRecordsWhenItLeftItsRepositoryTheLatestTime() {
    apply(added("acme/app", "sha256:a", 100, "acme", "acme/app"), removed("acme/app", "sha256:a", 100, "acme", "acme/app"));
    apply(added("acme/app", "sha256:a", 100, "acme", "acme/app"),
        removedAt(T.plus(Duration.ofMinutes(5)), "acme/app", "sha256:a", 100, "acme", "acme/app"));
    apply(removed("acme/app", "sha256:a", 100, "acme", "acme/app")); // an earlier time applied later moves nothing back

    assertThat(rows("select repository, digest, freed_at from recent_frees"))
        .containsExactly(List.of("acme/app", "sha256:a", T.plus(Duration.ofMinutes(5))));
    assertThat(ledger.snapshot("acme").await().frees()).extracting(Ledger.Freed::digest).as("within the hour before now: none")
        .isEmpty();
  }

  /** Reports carry a figure's close, not its high water, through the hours after its last change: a delete shows. */
  @Test
  void eachHourClosesAtTheLevelItsLastChangeLeftAcrossBatches() {
    apply(added("acme/app", "sha256:a", 100, "acme", "acme/app"), added("acme/app", "sha256:b", 50, "acme", "acme/app"));
    apply(removed("acme/app", "sha256:a", 100, "acme", "acme/app"));
    apply(traffic("acme/app", "alice", HOUR, 10, 0, 0, 0));
    // Next hour: a delete to nothing; the hour after: only traffic, so no storage change there.
    apply(removedAt(T.plus(Duration.ofHours(1)), "acme/app", "sha256:b", 50, "acme", "acme/app"));
    apply(traffic("acme/app", "alice", HOUR.plus(Duration.ofHours(2)), 10, 0, 0, 0));

    List<List<Object>> closes = new ArrayList<>();
    db.postgres().sql("select hour, storage_high_water, storage_close from usage_hourly where scope = 'acme' order by hour")
        .forEach(row -> closes.add(java.util.Arrays.asList(row.getOffsetDateTime(0).toInstant(), row.getLong(1), row.getLong(2))));
    assertThat(closes).containsExactly(java.util.Arrays.asList(HOUR, 150L, 50L),
        java.util.Arrays.asList(HOUR.plus(Duration.ofHours(1)), 50L, 0L),
        java.util.Arrays.asList(HOUR.plus(Duration.ofHours(2)), 0L, null));
  }

  @Test
  void aBlobRemovedIsUnlinkedAndFreedOnlyFromTheScopesTheEventNames() {
    apply(added("acme/app", "sha256:a", 100, "acme", "acme/app"));

    int applied = apply(removed("acme/app", "sha256:a", 100, "acme/app"));

    assertThat(applied).isEqualTo(1);
    assertThat(rows("select repository from repository_blobs")).isEmpty();
    assertThat(ledger.scopeUsage("acme").await()).isEqualTo(100);
    assertThat(ledger.scopeUsage("acme/app").await()).isZero();
  }

  @Test
  void usageNeverGoesBelowZero() {
    apply(added("acme/app", "sha256:a", 100, "acme", "acme/app"));

    apply(removed("acme/app", "sha256:big", 500, "acme", "acme/app"), removed("acme/other", "sha256:c", 7, "acme/other"));

    assertThat(ledger.namespaceUsage("acme").await())
        .containsExactly(entry("acme", 0L), entry("acme/app", 0L), entry("acme/other", 0L));
  }

  @Test
  void aManifestAddedIsRecordedWithItsReferencesAndRemovedWithThem() {
    apply(manifestAdded("acme/app", "sha256:m", "alice", "sha256:config", "sha256:layer"));

    assertThat(rows("select repository, digest, pushed_at, pushed_by from manifests"))
        .containsExactly(List.of("acme/app", "sha256:m", T, "alice"));
    assertThat(rows("select repository, manifest_digest, digest from manifest_references order by digest")).containsExactly(
        List.of("acme/app", "sha256:m", "sha256:config"), List.of("acme/app", "sha256:m", "sha256:layer"));

    apply(manifestRemoved("acme/app", "sha256:m"));

    assertThat(rows("select digest from manifests")).isEmpty();
    assertThat(rows("select digest from manifest_references")).isEmpty();
  }

  @Test
  void trafficAddsUpInEveryScopeOfThePathAndPerUserAndRepository() {
    Instant nextHour = HOUR.plus(Duration.ofHours(1));
    apply(traffic("acme/team/app", "alice", HOUR, 1000, 0, 1, 0),
        traffic("acme/team/app", "alice", HOUR, 0, 300, 0, 1),
        traffic("acme/web", "bob", HOUR, 0, 50, 0, 1),
        traffic("acme/web", "bob", nextHour, 7, 0, 0, 0),
        traffic("acme/web", "", HOUR, 0, 9, 0, 1));

    assertThat(rows("""
        select scope, hour, ingress_bytes, egress_bytes, pushes, pulls, storage_high_water
        from usage_hourly order by scope, hour""")).containsExactly(
        List.of("acme", HOUR, 1000L, 359L, 1L, 3L, 0L),
        List.of("acme", nextHour, 7L, 0L, 0L, 0L, 0L),
        List.of("acme/team", HOUR, 1000L, 300L, 1L, 1L, 0L),
        List.of("acme/team/app", HOUR, 1000L, 300L, 1L, 1L, 0L),
        List.of("acme/web", HOUR, 0L, 59L, 0L, 2L, 0L),
        List.of("acme/web", nextHour, 7L, 0L, 0L, 0L, 0L));
    // A request without a user ('') is counted in its scopes only, as Redis does.
    assertThat(rows("""
        select user_name, repository, hour, ingress_bytes, egress_bytes, pushes, pulls
        from user_traffic_hourly order by user_name, hour""")).containsExactly(
        List.of("alice", "acme/team/app", HOUR, 1000L, 300L, 1L, 1L),
        List.of("bob", "acme/web", HOUR, 0L, 50L, 0L, 1L),
        List.of("bob", "acme/web", nextHour, 7L, 0L, 0L, 0L));

    // A later batch adds to the same hours.
    apply(traffic("acme/web", "bob", HOUR, 1, 1, 0, 0));
    assertThat(rows("select ingress_bytes, egress_bytes from usage_hourly where scope = 'acme' and hour = $1",
        LedgerSql.utc(HOUR))).containsExactly(List.of(1001L, 360L));
    assertThat(rows("select ingress_bytes, egress_bytes from user_traffic_hourly where user_name = 'bob' and hour = $1",
        LedgerSql.utc(HOUR))).containsExactly(List.of(1L, 51L));
  }

  @Test
  void aRejectionIsRecorded() {
    Rejected rejected = new Rejected(nextId("acme"), T, "acme/app", "carol", "acme", "storage", 12, 95, 100, "hard limit");

    apply(rejected);

    assertThat(rows("""
        select event_id, occurred_at, repository, scope, user_name, resource, requested, usage, limit_bytes, reason
        from rejections""")).containsExactly(
        List.of(rejected.id(), T, "acme/app", "acme", "carol", "storage", 12L, 95L, 100L, "hard limit"));
  }

  @Test
  void everyAppliedEventIdIsRecordedWithWhereItCameFrom() {
    BlobAdded event = added("acme/app", "sha256:a", 1, "acme/app");

    apply(event);

    assertThat(rows("select event_id, namespace, stream_id, type, occurred_at from ledger_events"))
        .containsExactly(List.of(event.id(), "acme", event.id().substring("acme/".length()), "blob_added", T));
  }

  // ---- exactly once ---------------------------------------------------------------------------------

  @Test
  void aDuplicateChangesNothingInTheSameBatchOrALaterOne() {
    BlobAdded blob = added("acme/app", "sha256:a", 100, "acme", "acme/app");
    TrafficMetered pull = traffic("acme/app", "alice", HOUR, 0, 100, 0, 1);
    Rejected rejected = new Rejected(nextId("acme"), T, "acme/app", "carol", "acme", "storage", 12, 95, 100, "hard limit");

    assertThat(apply(blob, pull, blob, pull, rejected)).isEqualTo(3);
    assertThat(apply(pull, blob, rejected)).isZero();

    assertThat(ledger.scopeUsage("acme").await()).isEqualTo(100);
    assertThat(rows("select egress_bytes, pulls, storage_high_water from usage_hourly where scope = 'acme'"))
        .containsExactly(List.of(100L, 1L, 100L));
    assertThat(rows("select egress_bytes from user_traffic_hourly")).containsExactly(List.of(100L));
    assertThat(rows("select count(*) from rejections")).containsExactly(List.of(1L));
    assertThat(rows("select count(*) from ledger_events")).containsExactly(List.of(3L));
  }

  @Test
  void theSameBatchAppliedTwiceAtOnceIsAppliedOnce() throws Exception {
    List<LedgerEvent> batch = List.of(added("acme/app", "sha256:a", 100, "acme", "acme/app"),
        traffic("acme/app", "alice", HOUR, 0, 100, 0, 1));

    // The second transaction waits on the first's event ids, then finds them taken.
    int applied = Future.all(ledger.apply(batch), ledger.apply(batch))
        .map(both -> both.<Integer>resultAt(0) + both.<Integer>resultAt(1))
        .await(20, TimeUnit.SECONDS);

    assertThat(applied).isEqualTo(2);
    assertThat(ledger.scopeUsage("acme").await()).isEqualTo(100);
    assertThat(rows("select egress_bytes from usage_hourly where scope = 'acme'")).containsExactly(List.of(100L));
  }

  @Test
  void aBatchThatFailsAppliesNothingAndCanBeRetried() {
    BlobAdded good = added("acme/app", "sha256:a", 100, "acme", "acme/app");
    TrafficMetered pull = traffic("acme/app", "alice", HOUR, 0, 100, 0, 1);
    ManifestAdded manifest = manifestAdded("acme/app", "sha256:m", "alice", "sha256:a");
    // A negative size breaks blobs' check constraint: the whole transaction goes.
    BlobAdded bad = new BlobAdded(nextId("acme"), T, "acme/app", "alice", "sha256:b", -1, List.of("acme", "acme/app"));

    assertThatThrownBy(() -> apply(good, pull, manifest, bad)).hasMessageContaining("blobs_size_check");

    for (String table : List.of("ledger_events", "namespace_progress", "blobs", "repository_blobs", "manifests",
        "manifest_references", "scope_usage", "usage_hourly", "user_traffic_hourly")) {
      assertThat(rows("select count(*) from " + table)).as(table).containsExactly(List.of(0L));
    }

    assertThat(apply(good, pull, manifest)).isEqualTo(3);
    BlobAdded fixed = new BlobAdded(bad.id(), T, "acme/app", "alice", "sha256:b", 50, List.of("acme", "acme/app"));
    assertThat(apply(good, pull, manifest, fixed)).isEqualTo(1);

    assertThat(ledger.scopeUsage("acme/app").await()).isEqualTo(150);
    assertThat(rows("select egress_bytes from usage_hourly where scope = 'acme'")).containsExactly(List.of(100L));
  }

  @Test
  void aMalformedIdFailsTheBatchBeforeTheDatabase() {
    BlobAdded event = new BlobAdded("no-namespace", T, "acme/app", "alice", "sha256:a", 1, List.of("acme"));

    Future<Integer> applied = ledger.apply(List.of(event, added("acme/app", "sha256:b", 1, "acme")));

    assertThat(applied.failed()).isTrue();
    assertThat(applied.cause()).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no-namespace");
    assertThat(rows("select count(*) from ledger_events")).containsExactly(List.of(0L));
  }

  @Test
  void anEmptyBatchAppliesNothing() {
    assertThat(ledger.apply(List.of()).await()).isZero();
  }

  // ---- accounting scenarios -------------------------------------------------------------------------

  @Test
  void aBlobSharedByTwoRepositoriesIsStoredOnceAndChargedWhereTheEventsSay() {
    // acme/a pushes it first: new everywhere. acme/b then pushes it: acme already has it.
    apply(added("acme/a", "sha256:x", 100, "acme", "acme/a"), added("acme/b", "sha256:x", 100, "acme/b"));

    assertThat(rows("select digest, size from blobs")).containsExactly(List.of("sha256:x", 100L));
    assertThat(rows("select repository from repository_blobs order by repository"))
        .containsExactly(List.of("acme/a"), List.of("acme/b"));
    assertThat(ledger.namespaceUsage("acme").await())
        .containsExactly(entry("acme", 100L), entry("acme/a", 100L), entry("acme/b", 100L));

    // acme/a deletes it: acme/b still holds it, so acme keeps paying.
    apply(removed("acme/a", "sha256:x", 100, "acme/a"));

    assertThat(ledger.namespaceUsage("acme").await())
        .containsExactly(entry("acme", 100L), entry("acme/a", 0L), entry("acme/b", 100L));
    assertThat(rows("select repository from repository_blobs")).containsExactly(List.of("acme/b"));
  }

  @Test
  void deletingOneOfTwoImagesFreesItsOwnBlobsButNotTheSharedBaseLayer() {
    String repository = "acme/app";
    String[] scopes = {"acme", "acme/app"};
    // The events commit_manifest emits: blob_added for each blob new to the repository, then manifest_added.
    apply(added(repository, "sha256:base", 1000, scopes), added(repository, "sha256:layer1", 200, scopes),
        added(repository, "sha256:config1", 10, scopes), added(repository, "sha256:image1", 5, scopes),
        manifestAdded(repository, "sha256:image1", "alice", "sha256:config1", "sha256:base", "sha256:layer1"));
    apply(added(repository, "sha256:layer2", 300, scopes), added(repository, "sha256:config2", 20, scopes),
        added(repository, "sha256:image2", 6, scopes),
        manifestAdded(repository, "sha256:image2", "alice", "sha256:config2", "sha256:base", "sha256:layer2"));
    assertThat(ledger.scopeUsage("acme").await()).isEqualTo(1541);

    // drop_manifest: manifest_removed, then blob_removed for the manifest and each blob no manifest references now.
    apply(manifestRemoved(repository, "sha256:image1"), removed(repository, "sha256:image1", 5, scopes),
        removed(repository, "sha256:config1", 10, scopes), removed(repository, "sha256:layer1", 200, scopes));

    assertThat(ledger.namespaceUsage("acme").await())
        .containsExactly(entry("acme", 1326L), entry("acme/app", 1326L));
    assertThat(rows("select digest from repository_blobs order by digest")).containsExactly(
        List.of("sha256:base"), List.of("sha256:config2"), List.of("sha256:image2"), List.of("sha256:layer2"));
    assertThat(rows("select manifest_digest, digest from manifest_references order by digest")).containsExactly(
        List.of("sha256:image2", "sha256:base"), List.of("sha256:image2", "sha256:config2"),
        List.of("sha256:image2", "sha256:layer2"));
  }

  @Test
  void changesToOneKeyWithinABatchTakeEffectInOrder() {
    apply(added("acme/app", "sha256:kept", 10, "acme", "acme/app"));
    Instant later = T.plus(Duration.ofMinutes(5));

    apply(
        // unlinked, then linked again: linked since the second add
        removed("acme/app", "sha256:kept", 10, "acme", "acme/app"),
        addedAt(later, "acme/app", "sha256:kept", 10, "acme", "acme/app"),
        // linked, then unlinked: gone
        added("acme/app", "sha256:gone", 20, "acme", "acme/app"),
        removed("acme/app", "sha256:gone", 20, "acme", "acme/app"),
        // pushed, deleted, pushed again
        manifestAdded("acme/app", "sha256:m", "alice", "sha256:old"),
        manifestRemoved("acme/app", "sha256:m"),
        new ManifestAdded(nextId("acme"), later, "acme/app", "bob", "sha256:m", List.of("sha256:new")),
        // pushed, then deleted
        manifestAdded("acme/app", "sha256:deleted", "alice", "sha256:old"),
        manifestRemoved("acme/app", "sha256:deleted"));

    assertThat(rows("select digest, linked_at from repository_blobs")).containsExactly(List.of("sha256:kept", later));
    assertThat(rows("select digest, pushed_at, pushed_by from manifests")).containsExactly(List.of("sha256:m", later, "bob"));
    assertThat(rows("select digest from manifest_references")).containsExactly(List.of("sha256:new"));
    assertThat(ledger.scopeUsage("acme").await()).isEqualTo(10);
    assertThat(rows("select storage_high_water from usage_hourly where scope = 'acme'")).containsExactly(List.of(30L));
  }

  @Test
  void aBatchOfFiveHundredEventsIsAppliedWhole() {
    List<LedgerEvent> events = new ArrayList<>();
    for (int i = 0; i < 250; i++) {
      String repository = "acme/app" + (i % 10);
      events.add(added(repository, "sha256:" + i, 1000 + i, "acme", repository));
      events.add(traffic(repository, "user" + (i % 3), HOUR, 1000 + i, 0, 0, 0));
    }

    assertThat(apply(events.toArray(LedgerEvent[]::new))).isEqualTo(500);

    long expected = 250 * 1000 + 249 * 250 / 2;
    assertThat(ledger.scopeUsage("acme").await()).isEqualTo(expected);
    assertThat(rows("select storage_high_water, ingress_bytes from usage_hourly where scope = 'acme'"))
        .containsExactly(List.of(expected, expected));
    assertThat(rows("select sum(ingress_bytes)::bigint from user_traffic_hourly")).containsExactly(List.of(expected));
    assertThat(rows("select count(*) from repository_blobs")).containsExactly(List.of(250L));
  }

  // ---- progress ------------------------------------------------------------------------------------

  @Test
  void eachNamespaceKeepsTheNewestPositionApplied() {
    apply(eventAt("acme", 200, 0), eventAt("acme", 100, 5), eventAt("beta", 50, 1));
    assertThat(ledger.progress("acme").await()).contains(new StreamPosition(200, 0));
    assertThat(ledger.progress("beta").await()).contains(new StreamPosition(50, 1));

    apply(eventAt("acme", 150, 0));
    assertThat(ledger.progress("acme").await()).contains(new StreamPosition(200, 0));

    apply(eventAt("acme", 200, 1));
    assertThat(ledger.progress("acme").await()).contains(new StreamPosition(200, 1));
    assertThat(ledger.progress("gamma").await()).isEmpty();
  }

  @Test
  void eachNamespaceKeepsTheHighestSequenceNumberApplied() {
    BlobAdded first = added("acme/app", "sha256:a", 100, "acme", "acme/app");
    BlobAdded second = added("acme/app", "sha256:b", 50, "acme", "acme/app");
    Applied applied = applyNumbered(Map.of(first, 7L, second, 8L));

    assertThat(applied).isEqualTo(new Applied(2, Set.of()));
    assertThat(ledger.sequence("acme").await()).isEqualTo(8);
    assertThat(ledger.snapshot("acme").await().sequence()).isEqualTo(8);
    assertThat(ledger.sequence("beta").await()).isZero();
    // Redelivered, or unnumbered: the number stays.
    applyNumbered(Map.of(first, 7L));
    apply(added("acme/app", "sha256:c", 1, "acme", "acme/app"));
    assertThat(ledger.sequence("acme").await()).isEqualTo(8);
  }

  /**
   * Redis came back from an older snapshot: its stream numbers its next events after the older state's last
   * number, though their ids (times) are new. Such an event charged usage the ledger already held (here
   * sha256:b, which the older state had not seen): its charge is not trusted, the usage is recounted from the
   * links, and the namespace is named for its Redis state to be restored.
   */
  @Test
  void anEventNewInTimeButNotInNumberComesFromAnOlderRedisAndItsUsageIsRecounted() {
    BlobAdded a = added("acme/app", "sha256:a", 100, "acme", "acme/app");
    BlobAdded b = added("acme/app", "sha256:b", 50, "acme", "acme/app");
    applyNumbered(Map.of(a, 1L, b, 2L));
    apply(added("beta/web", "sha256:z", 10, "beta", "beta/web"));

    // The older Redis knew only sha256:a (number 1): it charges sha256:b again, and a new sha256:c, as number 2 and 3.
    BlobAdded bAgain = added("acme/other", "sha256:b", 50, "acme", "acme/other");
    BlobAdded c = added("acme/app", "sha256:c", 30, "acme", "acme/app");
    Applied applied = applyNumbered(Map.of(bAgain, 2L, c, 3L));

    assertThat(applied).isEqualTo(new Applied(2, Set.of("acme")));
    assertThat(ledger.namespaceUsage("acme").await())
        .as("distinct links, not the older Redis's charges (which would give acme 230)")
        .containsExactly(entry("acme", 180L), entry("acme/app", 180L), entry("acme/other", 50L));
    assertThat(ledger.scopeUsage("beta").await()).as("other namespaces untouched").isEqualTo(10);
    assertThat(rows("select repository, digest from repository_blobs where repository like 'acme/%' order by 1, 2"))
        .as("links and manifests of those events are facts the registry holds: applied")
        .containsExactly(List.of("acme/app", "sha256:a"), List.of("acme/app", "sha256:b"), List.of("acme/app", "sha256:c"),
            List.of("acme/other", "sha256:b"));
    assertThat(ledger.sequence("acme").await()).as("never back").isEqualTo(3);
  }

  @Test
  void aNewEventEarlierInItsStreamThanThePositionIsABatchOutOfOrderNotAnOlderRedis() {
    TrafficMetered late = eventAt("acme", 100, 0);
    TrafficMetered early = eventAt("acme", 200, 0);
    applyNumbered(Map.of(early, 5L));

    assertThat(applyNumbered(Map.of(late, 4L))).isEqualTo(new Applied(1, Set.of()));
  }

  @Test
  void streamPositionsParseAndOrderLikeStreamEntryIds() {
    assertThat(StreamPosition.parse("1700000000000-12")).isEqualTo(new StreamPosition(1_700_000_000_000L, 12));
    assertThat(new StreamPosition(5, 0)).isGreaterThan(new StreamPosition(4, 99)).isLessThan(new StreamPosition(5, 1));
    assertThat(new StreamPosition(5, 1)).hasToString("5-1");
    assertThatThrownBy(() -> StreamPosition.parse("12")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> StreamPosition.parse("a-1")).isInstanceOf(IllegalArgumentException.class);
  }

  // ---- intents ------------------------------------------------------------------------------------

  @Test
  void anIntentOpenedIsHeldOpenUntilItIsClosed() {
    IntentOpened opened = intentOpened("acme/app", "req-1", "commit_manifest", "sha256:m", 404, "sha256:c:10,sha256:l:20");

    assertThat(apply(opened)).isEqualTo(1);
    assertThat(rows("select namespace, request_id, what, repository, digest, session_id, size, refs, opened_at from open_intents"))
        .containsExactly(List.of("acme", "req-1", "commit_manifest", "acme/app", "sha256:m", "", 404L, "sha256:c:10,sha256:l:20", T));
    assertThat(rows("select type from ledger_events")).containsExactly(List.of("intent_opened"));

    assertThat(apply(intentClosed("acme/app", "req-1"))).isEqualTo(1);
    assertThat(rows("select request_id from open_intents")).isEmpty();
    assertThat(rows("select type from ledger_events order by stream_id")).containsExactly(List.of("intent_opened"),
        List.of("intent_closed"));
  }

  @Test
  void intentEventsApplyOnceAndOpeningOneTwiceKeepsTheFirst() {
    IntentOpened opened = intentOpened("acme/app", "req-1", "commit", "sha256:a", -1, "");
    apply(opened, opened);
    assertThat(apply(opened)).as("redelivered").isZero();
    // The same request's intent opened again (its intend call sent twice): one row, as first opened.
    apply(intentOpened("acme/app", "req-1", "commit", "sha256:other", -1, ""));
    assertThat(rows("select request_id, digest from open_intents")).containsExactly(List.of("req-1", "sha256:a"));

    IntentClosed closed = intentClosed("acme/app", "req-1");
    apply(closed);
    // Redelivered after a later open of another request: the closed event changes nothing again.
    apply(intentOpened("acme/app", "req-2", "drop_blob", "sha256:b", -1, ""));
    assertThat(apply(closed)).isZero();
    assertThat(rows("select request_id from open_intents")).containsExactly(List.of("req-2"));
    // Closing an intent the ledger does not hold open (opened while the namespace's state was unknown) is no error.
    assertThat(apply(intentClosed("acme/app", "req-never-opened"))).isEqualTo(1);
  }

  @Test
  void anIntentOpenedAndClosedInOneBatchLeavesNothingAndClosedThenOpenedLeavesItOpen() {
    apply(intentOpened("acme/app", "req-1", "commit", "sha256:a", -1, ""), intentClosed("acme/app", "req-1"),
        intentClosed("acme/app", "req-2"), intentOpened("acme/app", "req-2", "drop_manifest", "sha256:m", -1, ""));

    assertThat(rows("select request_id, what from open_intents")).containsExactly(List.of("req-2", "drop_manifest"));
  }

  @Test
  void intentsAreKeptPerNamespace() {
    apply(intentOpened("acme/app", "req-1", "commit", "sha256:a", -1, ""), intentOpened("beta/web", "req-1", "commit", "sha256:b", -1, ""));
    apply(intentClosed("acme/app", "req-1"));

    assertThat(rows("select namespace, request_id, digest from open_intents")).containsExactly(List.of("beta", "req-1", "sha256:b"));
  }

  @Test
  void intentEventsFromAnOlderRedisAreAppliedAndTheirNumbersChecked() {
    BlobAdded a = added("acme/app", "sha256:a", 100, "acme", "acme/app");
    IntentOpened first = intentOpened("acme/app", "req-1", "commit", "sha256:a", -1, "");
    applyNumbered(Map.of(first, 1L, a, 2L));
    assertThat(ledger.sequence("acme").await()).isEqualTo(2);

    // An older Redis numbers after 1 again: the intent is a request going on now, and is kept open.
    IntentOpened again = intentOpened("acme/app", "req-2", "commit", "sha256:b", -1, "");
    Applied applied = applyNumbered(Map.of(again, 2L));

    assertThat(applied).isEqualTo(new Applied(1, Set.of("acme")));
    assertThat(rows("select request_id from open_intents order by 1")).containsExactly(List.of("req-1"), List.of("req-2"));
    assertThat(ledger.scopeUsage("acme").await()).isEqualTo(100);
  }

  @Test
  void aSnapshotHoldsTheNamespacesOpenIntents() {
    apply(intentOpened("acme/app", "req-1", "commit_manifest", "sha256:m", 404, "sha256:c:10"),
        intentOpened("acme/team/api", "req-2", "commit", "sha256:a", -1, ""),
        intentOpened("acme/app", "req-3", "drop_blob", "sha256:b", -1, ""),
        intentClosed("acme/app", "req-3"),
        intentOpened("acme_x/app", "req-4", "commit", "sha256:x", -1, ""));

    NamespaceSnapshot snapshot = ledger.snapshot("acme").await();

    assertThat(snapshot.intents()).containsExactly(
        entry("req-1", new OpenIntent("req-1", "commit_manifest", "acme/app", "sha256:m", "", 404, "sha256:c:10")),
        entry("req-2", new OpenIntent("req-2", "commit", "acme/team/api", "sha256:a", "", -1, "")));
    assertThat(snapshot.position()).as("intent events move the position like any").isPresent();
    assertThat(ledger.openIntents("acme_x").await()).containsOnlyKeys("req-4");
    assertThat(ledger.snapshot("nobody").await().intents()).isEmpty();
    assertThat(ledger.namespaces().await()).as("a namespace with only an open intent is listed, to be restored")
        .containsExactly("acme", "acme_x");
  }

  // ---- reading -------------------------------------------------------------------------------------

  @Test
  void aSnapshotHoldsTheNamespacesRepositoriesUsageAndPosition() {
    apply(added("acme/app", "sha256:layer", 100, "acme", "acme/app"),
        added("acme/app", "sha256:m", 5, "acme", "acme/app"),
        manifestAdded("acme/app", "sha256:m", "alice", "sha256:layer"),
        added("acme/team/api", "sha256:layer", 100, "acme/team", "acme/team/api"),
        manifestAdded("acme/team/api", "sha256:empty", "alice"),
        // Other namespaces, some whose names start like "acme".
        added("acmecorp/app", "sha256:other", 1, "acmecorp", "acmecorp/app"),
        added("acme_x/app", "sha256:other", 1, "acme_x", "acme_x/app"),
        // '_' is a LIKE wildcard: acme_x must not take in acmeyx.
        added("acmeyx/app", "sha256:other", 1, "acmeyx", "acmeyx/app"));
    apply(eventAt("acme", STREAM_MS + 1000, 3));

    NamespaceSnapshot snapshot = ledger.snapshot("acme").await();

    assertThat(snapshot.namespace()).isEqualTo("acme");
    assertThat(snapshot.position()).contains(new StreamPosition(STREAM_MS + 1000, 3));
    assertThat(snapshot.usage()).containsExactly(entry("acme", 105L), entry("acme/app", 105L),
        entry("acme/team", 100L), entry("acme/team/api", 100L));
    assertThat(snapshot.repositories()).containsOnlyKeys("acme/app", "acme/team/api");
    assertThat(snapshot.repositories().get("acme/app")).isEqualTo(new RepositorySnapshot(
        Map.of("sha256:layer", 100L, "sha256:m", 5L), Map.of("sha256:m", Set.of("sha256:layer"))));
    assertThat(snapshot.repositories().get("acme/team/api")).isEqualTo(new RepositorySnapshot(
        Map.of("sha256:layer", 100L), Map.of("sha256:empty", Set.of())));

    assertThat(ledger.snapshot("acme_x").await().repositories()).containsOnlyKeys("acme_x/app");
    assertThat(ledger.namespaceUsage("acme_x").await()).containsOnlyKeys("acme_x", "acme_x/app");
    NamespaceSnapshot empty = ledger.snapshot("nobody").await();
    assertThat(empty.position()).isEmpty();
    assertThat(empty.usage()).isEmpty();
    assertThat(empty.repositories()).isEmpty();
  }

  @Test
  void aRepositoryNamedLikeItsNamespaceIsInIt() {
    apply(added("alpine", "sha256:a", 10, "alpine"), added("alpinex", "sha256:a", 10, "alpinex"));

    assertThat(ledger.namespaceUsage("alpine").await()).containsExactly(entry("alpine", 10L));
    assertThat(ledger.snapshot("alpine").await().repositories()).containsOnlyKeys("alpine");
  }

  @Test
  void namespacesAreThoseHoldingABlobOrAManifest() {
    apply(added("acme/app", "sha256:a", 10, "acme", "acme/app"),
        manifestAdded("beta/app", "sha256:m", "alice"),
        added("gamma", "sha256:g", 1, "gamma"),
        traffic("delta/app", "alice", HOUR, 1, 1, 0, 1));
    assertThat(ledger.namespaces().await()).containsExactly("acme", "beta", "gamma");

    apply(removed("gamma", "sha256:g", 1, "gamma"));
    assertThat(ledger.namespaces().await()).containsExactly("acme", "beta");
  }

  @Test
  void theUsageOfAScopeTheLedgerDoesNotKnowIsZero() {
    apply(added("acme/app", "sha256:a", 10, "acme", "acme/app"));

    assertThat(ledger.scopeUsage("acme/app").await()).isEqualTo(10);
    assertThat(ledger.scopeUsage("acme/unknown").await()).isZero();
    assertThat(ledger.namespaceUsage("unknown").await()).isEmpty();
  }

  // ---- helpers -------------------------------------------------------------------------------------

  private int apply(LedgerEvent... events) {
    try {
      return ledger.apply(Arrays.asList(events)).await(20, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError(e);
    }
  }

  /** Applies events with their sequence numbers, in stream order (by id). */
  private Applied applyNumbered(Map<? extends LedgerEvent, Long> numbered) {
    List<LedgerEvent> events = new ArrayList<>(numbered.keySet());
    events.sort(java.util.Comparator.comparing(event -> StreamPosition.parse(event.id().substring(event.id().indexOf('/') + 1))));
    Map<String, Long> sequences = new java.util.HashMap<>();
    numbered.forEach((event, sequence) -> sequences.put(event.id(), sequence));
    try {
      return ledger.apply(events, sequences).await(20, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError(e);
    }
  }

  /** The rows of a query, each as a list of its values (timestamps as Instants). */
  private static List<List<Object>> rows(String sql, Object... parameters) {
    List<List<Object>> rows = new ArrayList<>();
    for (Row row : db.postgres().sql(sql, parameters)) {
      List<Object> values = new ArrayList<>();
      for (int i = 0; i < row.size(); i++) {
        Object value = row.getValue(i);
        values.add(value instanceof java.time.OffsetDateTime time ? time.toInstant() : value);
      }
      rows.add(values);
    }
    return rows;
  }

  /** Stream entry ids as Redis makes them: one millisecond, rising sequence numbers. */
  private String nextId(String namespace) {
    return namespace + "/" + STREAM_MS + "-" + nextSeq++;
  }

  private BlobAdded added(String repository, String digest, long size, String... chargedScopes) {
    return addedAt(T, repository, digest, size, chargedScopes);
  }

  private BlobAdded addedAt(Instant at, String repository, String digest, long size, String... chargedScopes) {
    return new BlobAdded(nextId(Scopes.namespace(repository)), at, repository, "alice", digest, size, List.of(chargedScopes));
  }

  private BlobRemoved removed(String repository, String digest, long size, String... freedScopes) {
    return removedAt(T, repository, digest, size, freedScopes);
  }

  private BlobRemoved removedAt(Instant at, String repository, String digest, long size, String... freedScopes) {
    return new BlobRemoved(nextId(Scopes.namespace(repository)), at, repository, "alice", digest, size, List.of(freedScopes));
  }

  private ManifestAdded manifestAdded(String repository, String digest, String user, String... references) {
    return new ManifestAdded(nextId(Scopes.namespace(repository)), T, repository, user, digest, List.of(references));
  }

  private ManifestRemoved manifestRemoved(String repository, String digest) {
    return new ManifestRemoved(nextId(Scopes.namespace(repository)), T, repository, "alice", digest);
  }

  private TrafficMetered traffic(String repository, String user, Instant hour, long ingress, long egress, int pushes, int pulls) {
    return new TrafficMetered(nextId(Scopes.namespace(repository)), T, repository, user, hour, ingress, egress, pushes, pulls);
  }

  private IntentOpened intentOpened(String repository, String request, String what, String digest, long size, String references) {
    return new IntentOpened(nextId(Scopes.namespace(repository)), T, repository, "alice", request, what, digest, "", size, references);
  }

  private IntentClosed intentClosed(String repository, String request) {
    return new IntentClosed(nextId(Scopes.namespace(repository)), T, repository, "alice", request);
  }

  /** An event with no effect but its position: a pull of nothing. */
  private static TrafficMetered eventAt(String namespace, long ms, long seq) {
    return new TrafficMetered(namespace + "/" + ms + "-" + seq, T, namespace + "/app", "alice", HOUR, 0, 0, 0, 0);
  }
}
