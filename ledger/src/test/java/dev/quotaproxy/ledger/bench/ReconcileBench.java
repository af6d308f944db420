package dev.quotaproxy.ledger.bench;

import dev.quotaproxy.ledger.Drift;
import dev.quotaproxy.ledger.Reconciler;
import dev.quotaproxy.ledger.Reconciler.Report;
import dev.quotaproxy.ledger.registry.RegistryWalker;
import dev.quotaproxy.ledger.registry.WalkerOptions;
import dev.quotaproxy.ledger.support.RealRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.sqlclient.Pool;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Reconcile and backfill at scale: a real registry (Debian's {@code docker-registry}) seeded with 1,000
 * repositories holding 10,000 distinct blobs ({@link SeededRegistry}: shared base layers, one or two images
 * per repository, several tags), then, timed, with the walker and pool the proxy uses (8 requests in flight,
 * every blob checked with a HEAD, 2 Postgres connections):
 * <ol>
 *   <li>a backfill into an empty ledger;</li>
 *   <li>a reconciliation with nothing changed;</li>
 *   <li>a reconciliation after out-of-band changes (manifests deleted, images pushed, a layer deleted,
 *       repositories' files removed, all straight in the registry).</li>
 * </ol>
 * After each, the ledger is compared with the registry's content (blobs, links, manifests, references,
 * repositories, the usage of every scope); the unchanged reconciliation must find no drift and change no
 * namespace, and the last must report as drift exactly the scopes whose usage the changes moved, from what
 * they held to what they hold now. Any difference fails the run (exit 1). Seeding is not timed into the
 * figures (it is printed).
 *
 * <pre>
 * java -cp ... dev.quotaproxy.ledger.bench.ReconcileBench [--repositories 1000] [--seed-threads 8] [--changes 20]
 *     [--postgres embedded|durable|postgresql://...]
 * </pre>
 * Lines starting {@code RESULT} are for scripts/bench-ledger.sh.
 */
public final class ReconcileBench {
  private ReconcileBench() {}

  public static void main(String[] arguments) throws Exception {
    BenchArgs args = new BenchArgs(arguments);
    int repositories = args.integer("repositories", 1000);
    int seedThreads = args.integer("seed-threads", 8);
    int changes = args.integer("changes", 20);
    String where = args.text("postgres", "embedded");
    if (!Files.isExecutable(Path.of("/usr/bin/docker-registry"))) {
      System.out.println("FAIL /usr/bin/docker-registry is not installed (Debian package docker-registry)");
      System.exit(2);
    }

    List<String> wrong = new ArrayList<>();
    Vertx vertx = Vertx.vertx();
    try (RealRegistry registry = RealRegistry.start(); BenchPostgres postgres = BenchPostgres.start(where)) {
      SeededRegistry seeded = new SeededRegistry(registry, repositories);
      double seeding = seeded.seed(seedThreads);
      System.out.printf(Locale.ROOT, "registry %s (docker-registry), seeded in %.1f s on %d threads: %d repositories, "
          + "%d distinct blobs (layers, configs, manifests), %d manifests, %d links%n", registry.url(), seeding,
          seedThreads, seeded.repositories(), seeded.blobs(), seeded.manifests(), seeded.links());

      Pool pool = postgres.database().pool(vertx, 2);
      Pool admin = postgres.database().pool(vertx, 1);
      BenchPostgres.requireEmpty(admin);
      System.out.printf("ledger: %s; %s%n", postgres.description(), BenchPostgres.settings(admin));
      WalkerOptions options = WalkerOptions.of(URI.create(registry.url()));
      System.out.printf("walker: %d requests in flight, pages of %d, verify blobs %s; Postgres pool of 2, as the proxy runs them%n",
          options.concurrency(), options.pageSize(), options.verifyBlobs());
      RegistryWalker walker = new RegistryWalker(vertx, options);
      Reconciler reconciler = new Reconciler(pool, walker);
      List<String> rows = new ArrayList<>();
      try {
        long requests = seeded.walkRequests();
        Timed backfill = time(reconciler::backfill);
        check(wrong, "backfill", backfill.report, seeded, admin);
        rows.add(row("backfill into an empty ledger", backfill, seeded, admin, requests));

        Timed unchanged = time(reconciler::reconcile);
        check(wrong, "reconcile (no change)", unchanged.report, seeded, admin);
        if (!unchanged.report.drift().isEmpty() || !unchanged.report.changedNamespaces().isEmpty()) {
          wrong.add("reconcile (no change): drift in " + unchanged.report.drift().size() + " scopes, namespaces changed "
              + unchanged.report.changedNamespaces());
        }
        rows.add(row("reconcile, nothing changed", unchanged, seeded, admin, requests));

        if (changes > 0) {
          Map<String, Long> before = seeded.usage();
          String what = seeded.changeOutOfBand(registry, changes);
          Map<String, Long> after = seeded.usage();
          System.out.println("out of band: " + what);
          Timed changed = time(reconciler::reconcile);
          check(wrong, "reconcile (changed)", changed.report, seeded, admin);
          checkDrift(wrong, changed.report, before, after);
          rows.add(row("reconcile after the changes", changed, seeded, admin, seeded.walkRequests()));
        }
      } finally {
        walker.close();
        pool.close().await(10, TimeUnit.SECONDS);
        admin.close().await(10, TimeUnit.SECONDS);
      }

      System.out.printf("%n  %-30s %6s %7s %7s %9s %8s %7s %8s %10s%n", "run", "repos", "blobs", "links", "manifests",
          "seconds", "repos/s", "drift", "~requests/s");
      rows.forEach(System.out::println);
    } finally {
      vertx.close().await(10, TimeUnit.SECONDS);
    }
    wrong.forEach(problem -> System.out.println("FAIL " + problem));
    System.out.println(wrong.isEmpty()
        ? "check: after every run the ledger holds exactly the registry's blobs, links, manifests, references, repositories "
            + "and the usage of every scope; no drift when nothing changed; after the changes, drift in exactly the scopes they moved"
        : "");
    System.out.println(wrong.isEmpty() ? "CHECK reconcile ok" : "CHECK reconcile FAILED");
    System.exit(wrong.isEmpty() ? 0 : 1);
  }

  private record Timed(Report report, double seconds) {}

  private static Timed time(Supplier<Future<Report>> run) throws Exception {
    long started = System.nanoTime();
    Report report = run.get().await(30, TimeUnit.MINUTES);
    return new Timed(report, (System.nanoTime() - started) / 1e9);
  }

  private static String row(String name, Timed run, SeededRegistry seeded, Pool admin, long requests) {
    long blobs = BenchPostgres.number(admin, "select count(*) from blobs");
    long links = BenchPostgres.number(admin, "select count(*) from repository_blobs");
    long manifests = BenchPostgres.number(admin, "select count(*) from manifests");
    String key = name.startsWith("backfill") ? "backfill" : name.contains("nothing") ? "reconcile-unchanged" : "reconcile-changed";
    System.out.printf(Locale.ROOT, "RESULT %s repositories=%d blobs=%d links=%d manifests=%d seconds=%.2f drift=%d requests=%d%n",
        key, run.report.walkedInTotal(), blobs, links, manifests, run.seconds, run.report.drift().size(), requests);
    return String.format(Locale.ROOT, "  %-30s %6d %7d %7d %9d %8.2f %7.0f %8d %10.0f", name, run.report.walkedInTotal(),
        blobs, links, manifests, run.seconds, run.report.walkedInTotal() / run.seconds, run.report.drift().size(),
        requests / run.seconds);
  }

  private static void check(List<String> wrong, String run, Report report, SeededRegistry seeded, Pool admin) {
    if (!report.complete()) {
      wrong.add(run + ": did not complete");
    }
    if (report.walkedInTotal() != seeded.repositories()) {
      wrong.add(run + ": walked " + report.walkedInTotal() + " repositories, the registry holds " + seeded.repositories());
    }
    seeded.verify(admin).forEach(problem -> wrong.add(run + ": " + problem));
  }

  /** Drift in exactly the scopes whose usage moved, each from what it was to what it is. */
  private static void checkDrift(List<String> wrong, Report report, Map<String, Long> before, Map<String, Long> after) {
    Set<String> moved = new TreeSet<>();
    Set<String> scopes = new HashSet<>(before.keySet());
    scopes.addAll(after.keySet());
    for (String scope : scopes) {
      if (!Objects.equals(before.getOrDefault(scope, 0L), after.getOrDefault(scope, 0L))) {
        moved.add(scope);
      }
    }
    Set<String> reported = new TreeSet<>();
    for (Drift drift : report.drift()) {
      reported.add(drift.scope());
      if (drift.expected() != before.getOrDefault(drift.scope(), 0L) || drift.found() != after.getOrDefault(drift.scope(), 0L)) {
        wrong.add("reconcile (changed): drift of " + drift.scope() + " is " + drift.expected() + " -> " + drift.found()
            + ", expected " + before.getOrDefault(drift.scope(), 0L) + " -> " + after.getOrDefault(drift.scope(), 0L));
      }
    }
    if (!reported.equals(moved)) {
      wrong.add("reconcile (changed): drift reported in " + reported.size() + " scopes, the changes moved " + moved.size());
    }
  }
}
