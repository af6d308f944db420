package dev.quotaproxy.proxy.quota;

import dev.quotaproxy.proxy.oci.OciError;
import dev.quotaproxy.proxy.quota.ExchangeQuota.Admission;
import dev.quotaproxy.proxy.quota.QuotaStore.Traffic;
import io.vertx.core.Future;
import java.util.Optional;
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

  final QuotaStore store;
  final SystemGuard system;
  final long chunkReservation;
  final boolean failOpen;

  /**
   * @param chunkReservation bytes reserved at a time for bodies of unknown length
   * @param failOpen         let pushes through unmetered when the store is unreachable, instead of 503
   */
  public QuotaEnforcer(QuotaStore store, SystemGuard system, long chunkReservation, boolean failOpen) {
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
  Future<Admission> unlessReadOnly(Supplier<Future<Admission>> decision) {
    Optional<OciError> readOnly = system.readOnlyRefusal();
    return readOnly.isPresent() ? Future.succeededFuture(Admission.refuse(readOnly.get())) : decision.get();
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
