package dev.quotaproxy.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.ledger.Reconciler.Report;
import dev.quotaproxy.ledger.registry.RegistryWalker;
import dev.quotaproxy.ledger.registry.WalkerOptions;
import dev.quotaproxy.ledger.support.RealRegistry;
import dev.quotaproxy.ledger.support.RegistryPusher;
import dev.quotaproxy.ledger.support.RegistryPusher.Pushed;
import dev.quotaproxy.ledger.support.TestPostgres;
import io.vertx.core.Vertx;
import io.vertx.sqlclient.Pool;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfEnvironmentVariable;

/**
 * How long a backfill of 1,000 repositories and 10,000 blobs takes: each repository one image of a
 * shared base layer, eight layers and a config of its own. Not part of the usual run (seeding takes
 * longer than the backfill): {@code LEDGER_TIMING=1 mvn -B -o test -pl ledger -am -Dtest=BackfillTimingTest
 * -Dsurefire.failIfNoSpecifiedTests=false}.
 */
@EnabledIfEnvironmentVariable(named = "LEDGER_TIMING", matches = "1")
class BackfillTimingTest {
  private static final int REPOSITORIES = 1000;
  private static final int LAYERS = 8;

  @Test
  void aThousandRepositoriesBackfillInWellUnderAMinute() throws Exception {
    try (RealRegistry registry = RealRegistry.start(); TestPostgres postgres = TestPostgres.start()) {
      long seeding = System.nanoTime();
      long expectedNamespaceBytes = seed(new RegistryPusher(registry.url()));
      System.out.printf("seeded %d repositories in %d ms%n", REPOSITORIES, (System.nanoTime() - seeding) / 1_000_000);

      Vertx vertx = Vertx.vertx();
      Pool pool = postgres.database().pool(vertx, 4);
      RegistryWalker walker = new RegistryWalker(vertx, WalkerOptions.of(URI.create(registry.url())));
      try {
        Reconciler reconciler = new Reconciler(pool, walker);

        long started = System.nanoTime();
        Report backfill = reconciler.backfill().await(5, TimeUnit.MINUTES);
        long backfillMs = (System.nanoTime() - started) / 1_000_000;
        started = System.nanoTime();
        Report reconcile = reconciler.reconcile().await(5, TimeUnit.MINUTES);
        long reconcileMs = (System.nanoTime() - started) / 1_000_000;

        long links = postgres.sql("select count(*) from repository_blobs").iterator().next().getLong(0);
        long blobs = postgres.sql("select count(*) from blobs").iterator().next().getLong(0);
        System.out.printf("backfill: %d repositories, %d blobs, %d links in %d ms; reconcile (no change) in %d ms%n",
            backfill.walkedInTotal(), blobs, links, backfillMs, reconcileMs);

        assertThat(backfill.walkedInTotal()).isEqualTo(REPOSITORIES);
        assertThat(blobs).isEqualTo(REPOSITORIES * (LAYERS + 2) + 1); // + the shared base; manifests count as blobs
        assertThat(postgres.sql("select used_bytes from scope_usage where scope = 'bench'").iterator().next().getLong(0))
            .isEqualTo(expectedNamespaceBytes);
        assertThat(reconcile.drift()).isEmpty();
        assertThat(backfillMs).isLessThan(60_000);
      } finally {
        walker.close();
        vertx.close().await(10, TimeUnit.SECONDS);
      }
    }
  }

  /** Pushes the repositories on eight threads; gives the namespace's expected usage. */
  private static long seed(RegistryPusher push) throws Exception {
    byte[] base = RegistryPusher.random(4096, -1);
    ExecutorService threads = Executors.newFixedThreadPool(8);
    try {
      List<Future<Long>> repositories = new ArrayList<>();
      for (int r = 0; r < REPOSITORIES; r++) {
        int repository = r;
        repositories.add(threads.submit(() -> {
          String name = "bench/team" + repository % 10 + "/app" + repository;
          push.blob(name, base);
          Pushed config = push.blob(name, 200, repository * 100L);
          Pushed[] layers = new Pushed[LAYERS + 1];
          layers[0] = new Pushed(RegistryPusher.digest(base), base.length);
          long own = config.size();
          for (int l = 1; l <= LAYERS; l++) {
            layers[l] = push.blob(name, 1000 + l, repository * 100L + l);
            own += layers[l].size();
          }
          Pushed manifest = push.image(name, "1", config, layers);
          return own + manifest.size();
        }));
      }
      long total = base.length;
      for (Future<Long> repository : repositories) {
        total += repository.get();
      }
      return total;
    } finally {
      threads.shutdown();
    }
  }
}
