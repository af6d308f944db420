package dev.quotaproxy.metering;

import dev.quotaproxy.metering.QuotaStore.Reservation;
import io.vertx.core.Future;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reserves of one store that failed after they were sent (a timeout, a connection lost with the call on
 * it): they may still reserve in Redis, now or later, so each one's id is released whole, which retires
 * it: what it reserved comes back and a copy still on its way grants nothing. Arguments refused before
 * anything was sent retire nothing.
 */
final class InDoubtReserves {
  private static final Logger LOG = LoggerFactory.getLogger(InDoubtReserves.class);
  /** How long a failed reserve and its release are followed for {@link #settled()}. */
  private static final long IN_DOUBT_MILLIS = 10 * StoreClient.CALL_TIMEOUT_MILLIS;

  /** Releases a reservation: the store's {@link QuotaStore#release}. */
  @FunctionalInterface
  interface Release {
    Future<Void> release(String repository, String reservationId, long bytes);
  }

  private final StoreClient client;
  private final Release release;
  /** Failed reserves and the releases fired after them, until both are answered. */
  private final Set<Future<?>> inDoubt = ConcurrentHashMap.newKeySet();

  InDoubtReserves(StoreClient client, Release release) {
    this.client = client;
    this.release = release;
  }

  /** A guarded reserve under {@code id}, released whole if it fails after it was sent. */
  Future<Reservation> reserving(String name, String repository, String id, Supplier<Future<Reservation>> operation) {
    AtomicReference<Future<Reservation>> sent = new AtomicReference<>();
    return client.guarded(name, () -> {
      Future<Reservation> call = operation.get();
      sent.set(call);
      return call;
    }).recover(failure -> {
      Future<Reservation> call = sent.get();
      if (call != null) {
        Future<Void> released = release.release(repository, id, -1).onFailure(e -> LOG.warn(
            "{}: {} of {} failed ({}) and its release failed too ({}): what it may hold expires with its TTL",
            repository, name, id, failure.toString(), e.toString()));
        // Bounded: a Redis that never answers must not make this set grow without end.
        Future<?> both = Future.join(call, released).timeout(IN_DOUBT_MILLIS, TimeUnit.MILLISECONDS);
        inDoubt.add(both);
        both.onComplete(done -> inDoubt.remove(both));
      }
      return Future.failedFuture(failure);
    });
  }

  /**
   * Completes once every reserve that has failed so far, and the release that followed it, has been
   * answered by Redis (or failed): then nothing they sent is still on its way. For tests.
   */
  Future<Void> settled() {
    return Future.join(List.copyOf(inDoubt)).<Void>mapEmpty().otherwiseEmpty();
  }
}
