package dev.quotaproxy.ledger.bench;

import dev.quotaproxy.ledger.Ledger;
import dev.quotaproxy.ledger.LedgerEvent;
import io.vertx.core.Vertx;
import io.vertx.sqlclient.Pool;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * Ledger throughput: events per second applied into Postgres through {@link Ledger#apply}, one batch at a
 * time as the feed applies them, for several batch sizes, into the embedded Postgres as the proxy's quick start
 * runs it (fsync off), the same binaries with durable commits ({@code --postgres durable}), or a given server.
 *
 * <p>The events are an {@link EventWorkload} (pushes, promotions, pulls, deletes, refusals over 1,000
 * repositories in 40 namespaces), generated before each timed round. One warm-up, then rounds taking turns
 * between the batch sizes, so a slower machine moment or the tables' growth does not favour one size.
 * At the end every event left is applied and the tables are compared with what the events must
 * have made of them (events, blobs, links, manifests, references, every scope's usage, traffic totals,
 * refusals, stream positions), and the last batch is applied again and must change nothing: a fast run
 * that dropped or doubled anything fails (exit 1).
 *
 * <pre>
 * java -cp ... dev.quotaproxy.ledger.bench.LedgerApplyBench [--postgres embedded|durable|postgresql://...]
 *     [--batch-sizes 100,500,2000] [--events 20000] [--rounds 3] [--warmup 20000]
 * </pre>
 * Lines starting {@code RESULT} are for scripts/bench-ledger.sh.
 */
public final class LedgerApplyBench {
  private LedgerApplyBench() {}

  public static void main(String[] arguments) throws Exception {
    BenchArgs args = new BenchArgs(arguments);
    List<Integer> batchSizes = args.list("batch-sizes", "100,500,2000").stream().map(Integer::parseInt).toList();
    int eventsPerRound = args.integer("events", 20_000);
    int rounds = args.integer("rounds", 3);
    int warmup = args.integer("warmup", 20_000);
    String where = args.text("postgres", "embedded");
    String label = where.startsWith("postgresql://") ? "given" : where;

    boolean ok;
    Vertx vertx = Vertx.vertx();
    try (BenchPostgres postgres = BenchPostgres.start(where)) {
      Pool pool = postgres.database().pool(vertx, 1);
      BenchPostgres.requireEmpty(pool);
      System.out.printf("ledger apply: %s; %s; one batch in flight at a time, as the feed applies them%n",
          postgres.description(), BenchPostgres.settings(pool));
      EventWorkload workload = new EventWorkload(42);
      Ledger ledger = new Ledger(pool);
      applyAll(ledger, workload.take(warmup), 500);

      // Rounds take turns between the batch sizes, so neither a noisy moment nor the tables' growth favours one.
      List<Timings> timings = new ArrayList<>();
      batchSizes.forEach(size -> timings.add(new Timings(size)));
      List<LedgerEvent> lastBatch = List.of();
      ok = true;
      for (int round = 0; round < rounds; round++) {
        for (Timings size : timings) {
          List<List<LedgerEvent>> batches = split(workload.take(eventsPerRound), size.batchSize);
          long applied = 0;
          long started = System.nanoTime();
          for (List<LedgerEvent> batch : batches) {
            long batchStarted = System.nanoTime();
            applied += ledger.apply(batch).await(60, TimeUnit.SECONDS);
            size.batchMicros.add((System.nanoTime() - batchStarted) / 1000);
          }
          size.rates.add(eventsPerRound / ((System.nanoTime() - started) / 1e9));
          lastBatch = batches.get(batches.size() - 1);
          if (applied != eventsPerRound) {
            System.out.printf("FAIL batch size %d, round %d: %d of %d events applied%n", size.batchSize, round + 1, applied,
                eventsPerRound);
            ok = false;
          }
        }
      }
      applyAll(ledger, workload.rest(), 500);

      System.out.printf("%d events per batch size and round, median of %d rounds after %d warm-up events%n", eventsPerRound,
          rounds, warmup);
      System.out.printf("  %-10s %6s %10s %22s %13s %9s%n", "postgres", "batch", "events/s", "(min - max of rounds)",
          "ms/batch p50", "p99");
      for (Timings size : timings) {
        System.out.printf(Locale.ROOT, "  %-10s %6d %10.0f %10.0f - %-9.0f %13.1f %9.1f%n", label, size.batchSize,
            size.median(), size.min(), size.max(), size.percentileMillis(0.50), size.percentileMillis(0.99));
        System.out.printf(Locale.ROOT, "RESULT apply postgres=%s batch=%d eps=%.0f min=%.0f max=%.0f p50ms=%.1f p99ms=%.1f%n",
            label, size.batchSize, size.median(), size.min(), size.max(), size.percentileMillis(0.50),
            size.percentileMillis(0.99));
      }
      System.out.printf("events by type: %s%n", workload.eventsByType());
      ok &= check(workload, pool, ledger, lastBatch);
      pool.close().await(10, TimeUnit.SECONDS);
    } finally {
      vertx.close().await(10, TimeUnit.SECONDS);
    }
    System.out.println(ok ? "CHECK apply ok" : "CHECK apply FAILED");
    System.exit(ok ? 0 : 1);
  }

  /** One batch size's rounds (events per second) and batches (microseconds each). */
  private static final class Timings {
    final int batchSize;
    final List<Double> rates = new ArrayList<>();
    final List<Long> batchMicros = new ArrayList<>();

    Timings(int batchSize) {
      this.batchSize = batchSize;
    }

    double median() {
      List<Double> sorted = rates.stream().sorted().toList();
      int n = sorted.size();
      return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    double min() {
      return rates.stream().mapToDouble(Double::doubleValue).min().orElse(0);
    }

    double max() {
      return rates.stream().mapToDouble(Double::doubleValue).max().orElse(0);
    }

    double percentileMillis(double fraction) {
      List<Long> sorted = batchMicros.stream().sorted().toList();
      int index = Math.max(0, Math.min(sorted.size() - 1, (int) Math.ceil(sorted.size() * fraction) - 1));
      return sorted.get(index) / 1000.0;
    }
  }

  /** The tables against the workload, and a batch already applied again: none of it may count twice. */
  private static boolean check(EventWorkload workload, Pool pool, Ledger ledger, List<LedgerEvent> last) throws Exception {
    List<String> wrong = new ArrayList<>(workload.verify(pool));
    if (!last.isEmpty()) {
      int again = ledger.apply(last).await(60, TimeUnit.SECONDS);
      if (again != 0) {
        wrong.add("redelivered batch applied " + again + " events again");
      }
      wrong.addAll(workload.verify(pool));
    }
    if (wrong.isEmpty()) {
      System.out.printf("check: the ledger holds exactly the %d events sent (events, blobs, links, manifests, references, "
          + "usage of every scope, traffic, refusals, positions); a redelivered batch changed nothing%n", workload.generated());
      return true;
    }
    wrong.forEach(problem -> System.out.println("FAIL " + problem));
    return false;
  }

  private static void applyAll(Ledger ledger, List<LedgerEvent> events, int batchSize) throws Exception {
    for (List<LedgerEvent> batch : split(events, batchSize)) {
      ledger.apply(batch).await(60, TimeUnit.SECONDS);
    }
  }

  private static List<List<LedgerEvent>> split(List<LedgerEvent> events, int size) {
    List<List<LedgerEvent>> batches = new ArrayList<>();
    for (int from = 0; from < events.size(); from += size) {
      batches.add(events.subList(from, Math.min(events.size(), from + size)));
    }
    return batches;
  }
}
