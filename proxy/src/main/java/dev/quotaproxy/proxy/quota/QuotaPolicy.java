package dev.quotaproxy.proxy.quota;

import dev.quotaproxy.metering.QuotaStore;
import dev.quotaproxy.config.ProxyConfig;
import dev.quotaproxy.proxy.route.OciError;
import dev.quotaproxy.proxy.quota.ExchangeQuota.Admission;
import dev.quotaproxy.metering.QuotaStore.Denial;
import dev.quotaproxy.metering.QuotaStore.EgressCheck;
import dev.quotaproxy.metering.QuotaStore.Rejection;
import dev.quotaproxy.metering.QuotaStore.Reservation;
import dev.quotaproxy.metering.QuotaStore.Traffic;
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
 * What the quota rules of every operation share: the store, the system guard, the push path's guards,
 * and the policy for refusals (each recorded for reports), for uploads held up by others' bytes in
 * flight, and for a store that cannot be reached.
 */
final class QuotaPolicy {
  private static final Logger LOG = LoggerFactory.getLogger(QuotaPolicy.class);

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
  final ProxyConfig.PushGuards guards;
  final PushLimits pushes;
  private final Vertx vertx;

  QuotaPolicy(Vertx vertx, QuotaStore store, SystemGuard system, ProxyConfig.Quota quota, PushLimits pushes) {
    this.vertx = vertx;
    this.store = store;
    this.system = system;
    this.chunkReservation = quota.chunkReservation();
    this.failOpen = quota.failOpen();
    this.guards = quota.guards();
    this.pushes = pushes;
  }

  /** A new request id: each request reserves under its own, never reused (see {@link QuotaStore}). */
  static String requestId() {
    return "request:" + java.util.UUID.randomUUID();
  }

  /** The store's id of an upload session, from the registry's upload id. */
  static String sessionId(String uploadId) {
    return uploadId == null ? null : "session:" + uploadId;
  }

  /** A push's decision, unless the registry is read-only: then the refusal every push gets. */
  Future<Admission> unlessReadOnly(ExchangeView exchange, Supplier<Future<Admission>> decision) {
    Optional<OciError> readOnly = readOnlyRefusal(exchange);
    return readOnly.isEmpty() ? decision.get() : Future.succeededFuture(Admission.refuse(readOnly.get()));
  }

  /**
   * The refusal every push gets while the registry is read-only, recorded for reports, or while system
   * usage is unknown (503, unless failing open); empty when writable.
   */
  Optional<OciError> readOnlyRefusal(ExchangeView exchange) {
    if (!system.snapshot().known() && !failOpen) {
      return Optional.of(QuotaErrors.systemUsageUnknown());
    }
    Optional<OciError> readOnly = system.readOnlyRefusal();
    if (readOnly.isPresent()) {
      SystemGuard.Snapshot state = system.snapshot();
      record(exchange, new Rejection(SYSTEM_SCOPE, "storage_bytes", 0, state.usage().used(), state.settings().hardStorage(), "read_only"));
    }
    return readOnly;
  }

  /** The refusal of a request a storage limit leaves no room for; recorded for reports. */
  OciError storageRefusal(ExchangeView exchange, Denial denial) {
    record(exchange, Rejection.of(denial));
    return QuotaErrors.storageExceeded(denial);
  }

  /**
   * The refusal of a chunked upload cut off at a limit: says how much of the upload had arrived, which is
   * what a person reading {@code docker push} output needs, rather than the size of the last increment.
   */
  OciError uploadCutOff(ExchangeView exchange, Denial denial, long arrivedBytes) {
    record(exchange, Rejection.of(denial));
    return QuotaErrors.uploadCutOff(denial, arrivedBytes);
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
      } else if (ar.result().denial() == null || !onlyInFlightInTheWay(ar.result().denial()) || System.nanoTime() > deadline) {
        // Granted, or refused for a reason waiting cannot change (a size conflict, a retired id), or for good.
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
