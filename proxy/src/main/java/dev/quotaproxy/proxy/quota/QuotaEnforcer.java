package dev.quotaproxy.proxy.quota;

import dev.quotaproxy.proxy.oci.OciError;
import dev.quotaproxy.proxy.quota.ExchangeQuota.Admission;
import dev.quotaproxy.proxy.quota.QuotaStore.Denial;
import dev.quotaproxy.proxy.quota.QuotaStore.EgressCheck;
import dev.quotaproxy.proxy.quota.QuotaStore.Rejection;
import dev.quotaproxy.proxy.quota.QuotaStore.Reservation;
import dev.quotaproxy.proxy.quota.QuotaStore.Traffic;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Chooses, for each exchange, the quota rules of its operation (one class per intercepted operation,
 * each saying what it charges and when), and holds what they share: the store, the system guard and
 * the policy for a store that cannot be reached.
 */
public final class QuotaEnforcer implements QuotaRules {
  private static final Logger LOG = LoggerFactory.getLogger(QuotaEnforcer.class);

  /** How refusals by the system scope (read-only) name their scope in reports. */
  static final String SYSTEM_SCOPE = "";

  /** Longest wait, on average, for other uploads' bytes in flight to commit or release. */
  static final long CONTENTION_WAIT_MILLIS = 5_000;
  private static final long FIRST_RETRY_MILLIS = 10;
  private static final long LAST_RETRY_MILLIS = 200;

  final QuotaStore store;
  final SystemGuard system;
  final long chunkReservation;
  final boolean failOpen;
  private final Vertx vertx;

  /**
   * @param chunkReservation bytes reserved at a time for bodies of unknown length
   * @param failOpen         let pushes through unmetered when the store is unreachable, instead of 503
   */
  public QuotaEnforcer(Vertx vertx, QuotaStore store, SystemGuard system, long chunkReservation, boolean failOpen) {
    this.vertx = vertx;
    this.store = store;
    this.system = system;
    this.chunkReservation = chunkReservation;
    this.failOpen = failOpen;
  }

  @Override
  public ExchangeQuota forExchange(ExchangeView exchange) {
    if (exchange.oci().repository() == null) {
      return ExchangeQuota.NONE;
    }
    return switch (exchange.oci().operation()) {
      case UPLOAD_START -> new UploadStartQuota(this, exchange);
      case UPLOAD_CHUNK, UPLOAD_COMPLETE, UPLOAD_MONOLITHIC -> new BlobUploadQuota(this, exchange);
      case BLOB_MOUNT -> new MountQuota(this, exchange);
      case MANIFEST_PUT -> new ManifestPutQuota(this, exchange);
      case BLOB_DELETE, MANIFEST_DELETE, UPLOAD_CANCEL -> new DeleteQuota(this, exchange);
      case BLOB_GET, MANIFEST_GET -> new PullQuota(this, exchange);
      default -> ExchangeQuota.NONE;
    };
  }

  /** A push's decision, unless the registry is read-only: then the refusal every push gets. */
  Future<Admission> unlessReadOnly(ExchangeView exchange, Supplier<Future<Admission>> decision) {
    Optional<OciError> readOnly = system.readOnlyRefusal();
    if (readOnly.isEmpty()) {
      return decision.get();
    }
    SystemGuard.Snapshot state = system.snapshot();
    record(exchange, new Rejection(SYSTEM_SCOPE, "storage_bytes", 0, state.usage().used(), state.settings().hardStorage(), "read_only"));
    return Future.succeededFuture(Admission.refuse(readOnly.get()));
  }

  /** The refusal of a request a storage limit leaves no room for; recorded for reports. */
  OciError storageRefusal(ExchangeView exchange, Denial denial) {
    record(exchange, Rejection.of(denial));
    return QuotaErrors.storageExceeded(denial);
  }

  /** The refusal of a pull over an egress limit; recorded for reports. */
  OciError egressRefusal(ExchangeView exchange, EgressCheck check) {
    record(exchange, new Rejection(check.scope(), "egress_bytes", 0, check.used(), check.limit(), "egress_limit"));
    return QuotaErrors.egressExceeded(check);
  }

  private void record(ExchangeView exchange, Rejection rejection) {
    store.recordRejection(exchange.oci().repository(), exchange.user(), rejection)
        .onFailure(e -> LOG.warn("{}: refusal not recorded: {}", exchange.oci().repository(), e.toString()));
  }

  /**
   * Reserves through {@code attempt}, waiting while a refusal is due only to bytes in flight: when the
   * scope's committed usage leaves room for the request, the uploads holding the rest will commit or
   * release, so the attempt is repeated (10 ms, doubling to 200 ms, jittered) until it fits, the room
   * is taken for good, or the wait runs out. The wait is jittered per request, so that uploads which
   * each hold part of the room, and each need more, give up one at a time instead of all at once.
   */
  Future<Reservation> reserveThroughContention(Supplier<Future<Reservation>> attempt) {
    long deadline = System.nanoTime()
        + TimeUnit.MILLISECONDS.toNanos((long) (CONTENTION_WAIT_MILLIS * (0.5 + ThreadLocalRandom.current().nextDouble())));
    Promise<Reservation> outcome = Promise.promise();
    retry(attempt, outcome, FIRST_RETRY_MILLIS, deadline);
    return outcome.future();
  }

  private void retry(Supplier<Future<Reservation>> attempt, Promise<Reservation> outcome, long delay, long deadline) {
    attempt.get().onComplete(ar -> {
      if (ar.failed()) {
        outcome.fail(ar.cause());
      } else if (ar.result().granted() || !onlyInFlightInTheWay(ar.result().denial()) || System.nanoTime() > deadline) {
        outcome.complete(ar.result());
      } else {
        long jittered = delay / 2 + ThreadLocalRandom.current().nextLong(delay);
        vertx.setTimer(Math.max(1, jittered), id -> retry(attempt, outcome, Math.min(delay * 2, LAST_RETRY_MILLIS), deadline));
      }
    });
  }

  /**
   * Committed usage and what this upload holds already leave room for the request: only other
   * uploads' reservations, which end, are in its way.
   */
  static boolean onlyInFlightInTheWay(Denial denial) {
    return denial.used() + denial.heldByRequest() + Math.max(denial.requested(), 1) <= denial.hardLimit();
  }

  /** A push whose decision could not be made: refused with 503, or let through when failing open. */
  Admission storeUnreachable(ExchangeView exchange, Throwable cause) {
    LOG.error("{} {}: quota store unreachable: {}", exchange.oci().operation(), exchange.oci().repository(), cause.toString());
    return failOpen ? Admission.FORWARD : Admission.refuse(QuotaErrors.storeUnavailable());
  }

  /** Counts the traffic of a finished request; a store failure loses the sample, never the request. */
  void meter(ExchangeView exchange, Traffic traffic) {
    if (traffic.ingressBytes() == 0 && traffic.egressBytes() == 0 && traffic.pushes() == 0 && traffic.pulls() == 0) {
      return;
    }
    store.meter(exchange.oci().repository(), exchange.user(), traffic)
        .onFailure(e -> LOG.warn("{}: traffic not metered: {}", exchange.oci().repository(), e.toString()));
  }

  /** Logs a change the registry made that the store could not record; reconciliation corrects it. */
  <T> Future<T> recordFailure(ExchangeView exchange, String what, Throwable cause) {
    LOG.error("{} {}: {} not recorded, usage drifts until reconciled: {}",
        exchange.oci().operation(), exchange.oci().repository(), what, cause.toString());
    return Future.failedFuture(cause);
  }
}
