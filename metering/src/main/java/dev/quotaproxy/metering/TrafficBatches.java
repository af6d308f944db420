package dev.quotaproxy.metering;

import dev.quotaproxy.metering.QuotaStore.Traffic;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The traffic counters of finished requests (bytes each way, pushes, pulls), added up in memory on one event
 * loop and written to Redis every flush, one {@code meter} call per repository, user and hour instead of one
 * per request: a pull into scopes without an egress limit then does not touch Redis at all. A crash loses at
 * most what was added since the last flush (counters, never a storage charge, which is decided and written
 * per request). Not thread-safe: one per event loop, used on it only.
 */
public final class TrafficBatches {
  private static final Logger LOG = LoggerFactory.getLogger(TrafficBatches.class);
  private static final long HOUR_MILLIS = 3_600_000;
  /** Beyond this many distinct repository, user and hour keys between two flushes, a request is metered on its own. */
  static final int MAX_KEYS = 10_000;

  private record Key(String repository, String user, long hourStartMillis) {}

  /** What one flush writes: the sum of one key's requests. */
  public record Batch(String repository, String user, long hourStartMillis, Traffic traffic) {}

  /** Writes one batch; the store's meter. */
  @FunctionalInterface
  public interface Writer {
    Future<Void> write(String repository, String user, Traffic traffic, long atMillis);
  }

  private final Writer writer;
  private Map<Key, long[]> pending = new HashMap<>();

  public TrafficBatches(Writer writer) {
    this.writer = writer;
  }

  /** Adds a finished request's traffic, counted in the hour of {@code atMillis}. */
  public Future<Void> add(String repository, String user, Traffic traffic, long atMillis) {
    Key key = new Key(repository, user == null ? "" : user, atMillis - Math.floorMod(atMillis, HOUR_MILLIS));
    long[] counts = pending.get(key);
    if (counts == null) {
      if (pending.size() >= MAX_KEYS) {
        return writer.write(repository, user, traffic, atMillis);
      }
      counts = new long[4];
      pending.put(key, counts);
    }
    counts[0] += traffic.ingressBytes();
    counts[1] += traffic.egressBytes();
    counts[2] += traffic.pushes();
    counts[3] += traffic.pulls();
    return Future.succeededFuture();
  }

  /** What was added since the last drain, one batch per key; nothing is kept. */
  public List<Batch> drain() {
    Map<Key, long[]> taken = pending;
    pending = new HashMap<>();
    List<Batch> batches = new ArrayList<>(taken.size());
    taken.forEach((key, counts) -> batches.add(new Batch(key.repository(), key.user(), key.hourStartMillis(),
        new Traffic(counts[0], counts[1], (int) counts[2], (int) counts[3]))));
    return batches;
  }

  /** Writes what was added since the last flush; completes when every write has (a failed one is logged and lost). */
  public Future<Void> flush() {
    List<Batch> batches = drain();
    if (batches.isEmpty()) {
      return Future.succeededFuture();
    }
    List<Future<Void>> writes = new ArrayList<>(batches.size());
    for (Batch batch : batches) {
      writes.add(writer.write(batch.repository(), batch.user().isEmpty() ? null : batch.user(), batch.traffic(), batch.hourStartMillis())
          .onFailure(e -> LOG.warn("{}: traffic of {} not metered: {}", batch.repository(), batch.traffic(), e.toString())));
    }
    return Future.join(writes).mapEmpty();
  }
}
