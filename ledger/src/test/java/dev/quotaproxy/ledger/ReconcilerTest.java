package dev.quotaproxy.ledger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.quotaproxy.ledger.Reconciler.Kind;
import dev.quotaproxy.ledger.Reconciler.Report;
import dev.quotaproxy.ledger.registry.RegistryWalker;
import dev.quotaproxy.ledger.registry.WalkerOptions;
import dev.quotaproxy.ledger.support.RealRegistry;
import dev.quotaproxy.ledger.support.RegistryPusher;
import dev.quotaproxy.ledger.support.RegistryPusher.Pushed;
import dev.quotaproxy.ledger.support.SampleImages;
import dev.quotaproxy.ledger.support.TestPostgres;
import dev.quotaproxy.ledger.LedgerEvent.BlobAdded;
import dev.quotaproxy.ledger.LedgerEvent.BlobRemoved;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import java.net.URI;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Backfill and reconciliation against a real registry and a real Postgres. Content is pushed straight to
 * the registry, around any proxy; catalog and tag pages hold two entries, so every listing takes several.
 */
class ReconcilerTest {
  private static TestPostgres postgres;
  private static Vertx vertx;
  private static Pool pool;

  private RealRegistry registry;
  private RegistryPusher push;
  private RegistryWalker walker;
  private Reconciler reconciler;

  @BeforeAll
  static void startPostgres() {
    RealRegistry.assumeInstalled();
    postgres = TestPostgres.start();
    vertx = Vertx.vertx();
    pool = postgres.database().pool(vertx, 4);
  }

  @AfterAll
  static void stopPostgres() throws Exception {
    if (vertx != null) {
      vertx.close().await(10, TimeUnit.SECONDS);
    }
    if (postgres != null) {
      postgres.close();
    }
  }

  @BeforeEach
  void startRegistry() throws Exception {
    postgres.truncateAll();
    registry = RealRegistry.start();
    push = new RegistryPusher(registry.url());
    walker = new RegistryWalker(vertx, WalkerOptions.of(URI.create(registry.url())).withPageSize(2).withConcurrency(4));
    reconciler = new Reconciler(pool, walker);
  }

  @AfterEach
  void stopRegistry() throws Exception {
    walker.close();
    registry.close();
  }

  @Test
  void aBackfillFillsAnEmptyLedgerWithExactTotals() throws Exception {
    SampleImages images = SampleImages.push(push);

    Report report = reconciler.backfill().await(20, TimeUnit.SECONDS);

    assertThat(report.complete()).isTrue();
    assertThat(report.kind()).isEqualTo(Kind.BACKFILL);
    assertThat(report.walked()).isEqualTo(4);
    assertThat(report.walkedInTotal()).isEqualTo(4);
    // The shared base layer once in acme, once in each of acme/app and acme/web.
    assertThat(usage()).isEqualTo(images.usage());
    assertThat(report.drift()).containsExactlyElementsOf(
        images.usage().entrySet().stream().map(scope -> new Drift(scope.getKey(), 0, scope.getValue())).toList());
    assertThat(recordedDrift(report)).isEqualTo(report.drift());
    assertThat(report.changedNamespaces()).containsExactly("acme");

    assertThat(links(SampleImages.APP)).containsExactlyInAnyOrder(
        images.app.digest(), images.appConfig.digest(), images.base.digest(), images.appLayer.digest());
    assertThat(links(SampleImages.SCRATCH)).as("an upload no manifest references cannot be listed").isEmpty();
    assertThat(manifests(SampleImages.CLI)).containsExactlyInAnyOrder(
        images.index.digest(), images.amd.digest(), images.arm.digest());
    assertThat(references(SampleImages.CLI, images.index.digest()))
        .containsExactlyInAnyOrder(images.amd.digest(), images.arm.digest());
    assertThat(postgres.sql("select size from blobs where digest = $1", images.base.digest()))
        .extracting(row -> row.getLong(0)).containsExactly(images.base.size());

    Row run = run(report);
    assertThat(run.getString("kind")).isEqualTo("backfill");
    assertThat(run.getString("status")).isEqualTo("done");
    assertThat(run.getValue("finished_at")).isNotNull();
    assertThat(run.getString("resume_after")).isEqualTo(SampleImages.SCRATCH);
    assertThat(run.getInteger("repositories")).isEqualTo(4);

    Report again = reconciler.backfill().await(20, TimeUnit.SECONDS);
    assertThat(again.reconciliationId()).as("a finished run is not resumed").isNotEqualTo(report.reconciliationId());
    assertThat(again.drift()).isEmpty();
    assertThat(again.changedNamespaces()).isEmpty();
  }

  @Test
  void bytesPushedAndBlobsDeletedStraightInTheRegistryAreFoundAndCorrected() throws Exception {
    SampleImages images = SampleImages.push(push);
    reconciler.backfill().await(20, TimeUnit.SECONDS);
    Map<String, Long> before = usage();

    Pushed config = push.blob(SampleImages.WEB, 340, 20);
    Pushed layer = push.blob(SampleImages.WEB, 60_000, 21);
    Pushed web2 = push.image(SampleImages.WEB, "2", config, images.base, layer);
    push.deleteBlob(SampleImages.WEB, images.webLayer.digest());

    Report report = reconciler.reconcile().await(20, TimeUnit.SECONDS);

    long change = SampleImages.sum(web2, config, layer) - images.webLayer.size();
    assertThat(report.drift()).containsExactly(
        new Drift("acme", before.get("acme"), before.get("acme") + change),
        new Drift(SampleImages.WEB, before.get(SampleImages.WEB), before.get(SampleImages.WEB) + change));
    assertThat(recordedDrift(report)).isEqualTo(report.drift());
    assertThat(postgres.sql("select bool_and(corrected) from drift").iterator().next().getBoolean(0)).isTrue();
    assertThat(usage()).containsEntry("acme", before.get("acme") + change)
        .containsEntry(SampleImages.WEB, before.get(SampleImages.WEB) + change)
        .containsEntry(SampleImages.APP, before.get(SampleImages.APP));
    assertThat(links(SampleImages.WEB)).contains(web2.digest(), layer.digest()).doesNotContain(images.webLayer.digest());
    assertThat(report.changedNamespaces()).containsExactly("acme");
    assertThat(run(report).getString("kind")).isEqualTo("registry");
    assertThat(run(report).getString("status")).isEqualTo("done");
  }

  @Test
  void anUploadNoManifestReferencesStaysWhileTheRegistryHoldsItAndLeavesOnceDeleted() throws Exception {
    SampleImages images = SampleImages.push(push);
    reconciler.backfill().await(20, TimeUnit.SECONDS);
    // What the proxy's ledger records for an upload that completed: the blob, linked, in usage.
    postgres.sql("insert into blobs (digest, size) values ($1, $2)", images.orphan.digest(), images.orphan.size());
    postgres.sql("insert into repository_blobs values ($1, $2, now())", SampleImages.SCRATCH, images.orphan.digest());
    postgres.sql("insert into scope_usage values ('other', $1, now()), ('other/scratch', $1, now())", images.orphan.size());

    Report kept = reconciler.reconcile().await(20, TimeUnit.SECONDS);

    assertThat(kept.drift()).isEmpty();
    assertThat(kept.changedNamespaces()).isEmpty();
    assertThat(links(SampleImages.SCRATCH)).containsExactly(images.orphan.digest());

    push.deleteBlob(SampleImages.SCRATCH, images.orphan.digest());
    Report dropped = reconciler.reconcile().await(20, TimeUnit.SECONDS);

    assertThat(dropped.drift()).containsExactly(
        new Drift("other", images.orphan.size(), 0), new Drift("other/scratch", images.orphan.size(), 0));
    assertThat(links(SampleImages.SCRATCH)).isEmpty();
    assertThat(dropped.changedNamespaces()).containsExactly("other");
  }

  @Test
  void aManifestDeletedStraightTakesItsBlobsAndAnUntaggedOneStaysWhileStored() throws Exception {
    SampleImages images = SampleImages.push(push);
    reconciler.backfill().await(20, TimeUnit.SECONDS);
    Map<String, Long> before = usage();

    // acme/app's only manifest deleted (its tags with it); acme/web's tag moved, its old manifest kept untagged.
    push.deleteManifest(SampleImages.APP, images.app.digest());
    Pushed config = push.blob(SampleImages.WEB, 340, 20);
    Pushed web2 = push.image(SampleImages.WEB, "1", config, images.base, images.webLayer);

    Report report = reconciler.reconcile().await(20, TimeUnit.SECONDS);

    long app = before.get(SampleImages.APP);
    long added = SampleImages.sum(web2, config);
    assertThat(report.drift()).containsExactly(
        new Drift("acme", before.get("acme"), before.get("acme") - app + images.base.size() + added),
        new Drift(SampleImages.APP, app, 0),
        new Drift(SampleImages.WEB, before.get(SampleImages.WEB), before.get(SampleImages.WEB) + added));
    assertThat(links(SampleImages.APP)).isEmpty();
    assertThat(manifests(SampleImages.APP)).isEmpty();
    assertThat(manifests(SampleImages.WEB)).containsExactlyInAnyOrder(images.web.digest(), web2.digest());
  }

  @Test
  void aRepositoryGoneFromTheCatalogLeavesTheLedger() throws Exception {
    SampleImages images = SampleImages.push(push);
    reconciler.backfill().await(20, TimeUnit.SECONDS);
    Map<String, Long> before = usage();

    registry.removeRepositoryFiles(SampleImages.CLI);
    Report report = reconciler.reconcile().await(20, TimeUnit.SECONDS);

    assertThat(report.walked()).isEqualTo(3);
    long cli = before.get(SampleImages.CLI);
    assertThat(report.drift()).containsExactly(
        new Drift("acme", before.get("acme"), before.get("acme") - cli),
        new Drift("acme/tools", cli, 0),
        new Drift(SampleImages.CLI, cli, 0));
    assertThat(links(SampleImages.CLI)).isEmpty();
    assertThat(manifests(SampleImages.CLI)).isEmpty();
    assertThat(usage()).containsEntry(SampleImages.APP, images.usage().get(SampleImages.APP));
    // Reports carry the corrected levels from this hour on: each corrected scope closes this hour at what was found.
    assertThat(closedThisHour("storage_close")).containsEntry("acme", before.get("acme") - cli).containsEntry("acme/tools", 0L)
        .containsEntry(SampleImages.CLI, 0L);
  }

  /** Each scope's close of a figure in the hour now is in (UTC), where it has one. */
  private Map<String, Long> closedThisHour(String column) {
    Map<String, Long> closes = new java.util.TreeMap<>();
    postgres
        .sql("select scope, " + column + " from usage_hourly where hour = date_trunc('hour', now() at time zone 'UTC') at time zone 'UTC'"
            + " and " + column + " is not null")
        .forEach(row -> closes.put(row.getString(0), row.getLong(1)));
    return closes;
  }

  @Test
  void anInterruptedBackfillResumesAfterItsLastRepositoryAndEndsWithTheSameTotals() throws Exception {
    SampleImages images = SampleImages.push(push);

    Report first = reconciler.run(Kind.BACKFILL, 2).await(20, TimeUnit.SECONDS);

    assertThat(first.complete()).isFalse();
    assertThat(first.walked()).isEqualTo(2);
    assertThat(run(first).getString("status")).isEqualTo("stopped");
    assertThat(run(first).getString("resume_after")).isEqualTo(SampleImages.CLI);
    assertThat(links(SampleImages.APP)).isNotEmpty();
    assertThat(links(SampleImages.WEB)).isEmpty();
    assertThat(usage()).as("usage is recomputed once the whole catalog is walked").isEmpty();

    // A process killed mid-run leaves its row running: the next run takes it over all the same.
    postgres.sql("update reconciliations set status = 'running'");
    Report second = reconciler.run(Kind.BACKFILL, 1).await(20, TimeUnit.SECONDS);
    assertThat(second.reconciliationId()).isEqualTo(first.reconciliationId());
    assertThat(second.walked()).isEqualTo(1);
    assertThat(run(second).getString("resume_after")).isEqualTo(SampleImages.WEB);

    Report last = reconciler.backfill().await(20, TimeUnit.SECONDS);

    assertThat(last.reconciliationId()).isEqualTo(first.reconciliationId());
    assertThat(last.complete()).isTrue();
    assertThat(last.walked()).isEqualTo(1);
    assertThat(last.walkedInTotal()).isEqualTo(4);
    assertThat(usage()).isEqualTo(images.usage());
    assertThat(last.changedNamespaces()).containsExactly("acme");
    assertThat(postgres.sql("select count(*) from reconciliations").iterator().next().getLong(0)).isEqualTo(1);
  }

  @Test
  void aFailedRunIsResumedByTheNextOne() throws Exception {
    SampleImages images = SampleImages.push(push);
    RegistryWalker nowhere = new RegistryWalker(vertx, WalkerOptions.of(URI.create("http://127.0.0.1:1")));
    try {
      assertThatThrownBy(() -> new Reconciler(pool, nowhere).backfill().await(20, TimeUnit.SECONDS))
          .hasMessageContaining("GET /v2/_catalog");
    } finally {
      nowhere.close();
    }
    Row failed = postgres.sql("select * from reconciliations").iterator().next();
    assertThat(failed.getString("status")).isEqualTo("failed");
    assertThat(failed.getString("error")).contains("GET /v2/_catalog");

    Report report = reconciler.backfill().await(20, TimeUnit.SECONDS);

    assertThat(report.reconciliationId()).isEqualTo(failed.getLong("id"));
    assertThat(usage()).isEqualTo(images.usage());
    assertThat(run(report).getValue("error")).isNull();
  }

  @Test
  void theCountsAreRecountedWithEachRepositoryTheRunCorrectsAndAtItsEnd() throws Exception {
    SampleImages images = SampleImages.push(push);

    reconciler.run(Kind.BACKFILL, 2).await(20, TimeUnit.SECONDS);
    assertThat(counts()).as("with each repository's commit, before the run ends: acme/app and acme/tools/cli walked")
        .isEqualTo(Map.of("acme", "2 4", SampleImages.APP, "1 1", "acme/tools", "1 3", SampleImages.CLI, "1 3"));
    reconciler.backfill().await(20, TimeUnit.SECONDS);
    assertThat(counts()).isEqualTo(Map.of("acme", "3 5", SampleImages.APP, "1 1", SampleImages.WEB, "1 1", "acme/tools", "1 3",
        SampleImages.CLI, "1 3"));

    // Straight in the registry: acme/app's only manifest deleted (it holds nothing after), a second manifest in acme/web.
    push.deleteManifest(SampleImages.APP, images.app.digest());
    Pushed config = push.blob(SampleImages.WEB, 340, 20);
    push.image(SampleImages.WEB, "2", config, images.base, images.webLayer);
    // And a count the ledger got wrong (events written before counts were metered, say): the run's end corrects it.
    postgres.sql("insert into scope_counts values ('other', 9, 9)");

    reconciler.reconcile().await(20, TimeUnit.SECONDS);

    assertThat(counts()).isEqualTo(Map.of("acme", "2 5", SampleImages.APP, "0 0", SampleImages.WEB, "1 2", "acme/tools", "1 3",
        SampleImages.CLI, "1 3", "other", "0 0"));
    assertThat(closedThisHour("repositories_close")).as("the counts it changed close this hour where it left them")
        .containsEntry("acme", 2L).containsEntry(SampleImages.APP, 0L).containsEntry("other", 0L);
    assertThat(closedThisHour("manifests_close")).containsEntry(SampleImages.APP, 0L).containsEntry(SampleImages.WEB, 2L)
        .containsEntry("other", 0L);
  }

  @Test
  void aBlobPushedAgainWhileTheRunWalksStaysInTheLedger() throws Exception {
    SampleImages images = SampleImages.push(push);
    reconciler.backfill().await(20, TimeUnit.SECONDS);
    Ledger ledger = new Ledger(pool);
    ledger.apply(List.of(new BlobAdded(eventId("other"), Instant.now(), SampleImages.SCRATCH, "alice",
        images.orphan.digest(), images.orphan.size(), List.of("other", SampleImages.SCRATCH)))).await(10, TimeUnit.SECONDS);
    // Deleted through a proxy whose events have not reached the ledger when the run reads it.
    push.deleteBlob(SampleImages.SCRATCH, images.orphan.digest());
    // After the run has read the ledger and found the blob gone from the registry: pushed again, and the
    // delete's and the push's events applied.
    Reconciler racing = new Reconciler(pool, walker, repository -> {
      if (!repository.equals(SampleImages.SCRATCH)) {
        return Future.succeededFuture();
      }
      push.blob(SampleImages.SCRATCH, 7_000, 10);
      List<String> scopes = List.of("other", SampleImages.SCRATCH);
      return ledger.apply(List.of(
          new BlobRemoved(eventId("other"), Instant.now(), SampleImages.SCRATCH, "alice", images.orphan.digest(),
              images.orphan.size(), scopes),
          new BlobAdded(eventId("other"), Instant.now(), SampleImages.SCRATCH, "alice", images.orphan.digest(),
              images.orphan.size(), scopes)))
          .mapEmpty();
    });

    Report report = racing.reconcile().await(20, TimeUnit.SECONDS);

    assertThat(links(SampleImages.SCRATCH)).as("the registry holds it again").containsExactly(images.orphan.digest());
    assertThat(report.drift()).isEmpty();
    assertThat(usage()).containsEntry(SampleImages.SCRATCH, images.orphan.size());
    assertThat(reconciler.reconcile().await(20, TimeUnit.SECONDS).drift()).as("the ledger agrees with the registry").isEmpty();
  }

  @Test
  void eventsThatArriveAfterTheRunMadeTheirChangeAreNotCountedTwice() throws Exception {
    SampleImages images = SampleImages.push(push);
    reconciler.backfill().await(20, TimeUnit.SECONDS);
    Map<String, Long> before = usage();
    Ledger ledger = new Ledger(pool);
    // Deleted through a proxy whose event reaches the ledger only after the run.
    push.deleteBlob(SampleImages.WEB, images.webLayer.digest());
    BlobRemoved late = new BlobRemoved(eventId("acme"), Instant.now(), SampleImages.WEB, "alice",
        images.webLayer.digest(), images.webLayer.size(), List.of("acme", SampleImages.WEB));

    Report report = reconciler.reconcile().await(20, TimeUnit.SECONDS);
    ledger.apply(List.of(late)).await(10, TimeUnit.SECONDS);

    long layer = images.webLayer.size();
    assertThat(report.drift()).containsExactly(
        new Drift("acme", before.get("acme"), before.get("acme") - layer),
        new Drift(SampleImages.WEB, before.get(SampleImages.WEB), before.get(SampleImages.WEB) - layer));
    assertThat(usage()).as("freed once").containsEntry("acme", before.get("acme") - layer)
        .containsEntry(SampleImages.WEB, before.get(SampleImages.WEB) - layer);
    assertThat(postgres.sql("select namespace from namespace_recounts")).extracting(row -> row.getString(0))
        .containsExactly("acme");

    // An event written well after the run: charges replay again, and the mark is gone.
    Pushed layer2 = push.blob(SampleImages.WEB, 9_000, 30);
    ledger.apply(List.of(new BlobAdded("acme/" + (System.currentTimeMillis() + 120_000) + "-0", Instant.now(),
        SampleImages.WEB, "alice", layer2.digest(), layer2.size(), List.of("acme", SampleImages.WEB))))
        .await(10, TimeUnit.SECONDS);
    assertThat(usage()).containsEntry("acme", before.get("acme") - layer + layer2.size());
    assertThat(postgres.sql("select namespace from namespace_recounts")).isEmpty();
  }

  @Test
  void oneRunAtATime() throws Exception {
    Pool own = postgres.database().pool(vertx, 1);
    try {
      own.query("select pg_advisory_lock(hashtext('quota-proxy:registry-reconciliation'))").execute()
          .await(10, TimeUnit.SECONDS);

      assertThatThrownBy(() -> reconciler.reconcile().await(20, TimeUnit.SECONDS))
          .hasMessageContaining("another registry reconciliation or backfill is running");
      assertThat(postgres.sql("select count(*) from reconciliations").iterator().next().getLong(0)).isZero();
    } finally {
      own.close().await(10, TimeUnit.SECONDS);
    }
    assertThat(reconciler.reconcile().await(20, TimeUnit.SECONDS).complete()).isTrue();
  }

  private static int events;

  /** A stream entry id of now, as the proxy's Redis would give its next event of the namespace. */
  private static String eventId(String namespace) {
    return namespace + "/" + System.currentTimeMillis() + "-" + events++;
  }

  /** Every scope's usage in the ledger, zeros left out. */
  private static Map<String, Long> usage() {
    Map<String, Long> usage = new TreeMap<>();
    postgres.sql("select scope, used_bytes from scope_usage where used_bytes > 0")
        .forEach(row -> usage.put(row.getString(0), row.getLong(1)));
    return usage;
  }

  private static List<Drift> recordedDrift(Report report) {
    List<Drift> drift = new ArrayList<>();
    postgres.sql("select scope, expected_bytes, found_bytes from drift where reconciliation_id = $1 order by scope",
        report.reconciliationId()).forEach(row -> drift.add(new Drift(row.getString(0), row.getLong(1), row.getLong(2))));
    return drift;
  }

  private static Row run(Report report) {
    return postgres.sql("select * from reconciliations where id = $1", report.reconciliationId()).iterator().next();
  }

  /** Each scope's counts as the ledger keeps them: "repositories manifests". */
  private static Map<String, String> counts() {
    Map<String, String> counts = new TreeMap<>();
    postgres.sql("select scope, repositories, manifests from scope_counts")
        .forEach(row -> counts.put(row.getString(0), row.getLong(1) + " " + row.getLong(2)));
    return counts;
  }

  private static Set<String> links(String repository) {
    return strings("select digest from repository_blobs where repository = $1", repository);
  }

  private static Set<String> manifests(String repository) {
    return strings("select digest from manifests where repository = $1", repository);
  }

  private static Set<String> references(String repository, String manifest) {
    Set<String> references = new HashSet<>();
    postgres.sql("select digest from manifest_references where repository = $1 and manifest_digest = $2", repository, manifest)
        .forEach(row -> references.add(row.getString(0)));
    return references;
  }

  private static Set<String> strings(String sql, String parameter) {
    Set<String> values = new HashSet<>();
    postgres.sql(sql, parameter).forEach(row -> values.add(row.getString(0)));
    return values;
  }
}
