package dev.quotaproxy.proxy.quota;

import dev.quotaproxy.metering.QuotaStore;
import dev.quotaproxy.config.ProxyConfig;
import dev.quotaproxy.proxy.route.OciError;
import dev.quotaproxy.proxy.quota.ExchangeQuota.Admission;
import io.vertx.core.Future;
import io.vertx.core.Vertx;

/**
 * Chooses, for each exchange, the quota rules of its operation (one class per intercepted operation,
 * each saying what it charges and when); what the rules share is their {@link QuotaPolicy}.
 */
public final class QuotaEnforcer implements QuotaRules {
  private final QuotaPolicy policy;

  /**
   * @param quota  the quota settings: chunk reservation, fail-open, the push path's guards
   * @param pushes what every event loop of the process shares of the push path's limits
   */
  public QuotaEnforcer(Vertx vertx, QuotaStore store, SystemGuard system, ProxyConfig.Quota quota, PushLimits pushes) {
    this.policy = new QuotaPolicy(vertx, store, system, quota, pushes);
  }

  /** The push path's limits shared by every event loop of a process, from the settings. */
  public static PushLimits pushLimits(ProxyConfig.Quota quota) {
    return new PushLimits(quota.guards().maxPushesPerClient(), quota.guards().manifestBuffer());
  }

  /** Writes the traffic counters the store added up and has not written yet. */
  @Override
  public Future<Void> close() {
    return policy.store.flush();
  }

  @Override
  public ExchangeQuota forExchange(ExchangeView exchange) {
    if (exchange.oci().repository() == null) {
      return ExchangeQuota.NONE;
    }
    return switch (exchange.oci().operation()) {
      case UPLOAD_START -> counted(exchange, new UploadStartQuota(policy, exchange));
      case UPLOAD_CHUNK, UPLOAD_COMPLETE, UPLOAD_MONOLITHIC -> counted(exchange, new BlobUploadQuota(policy, exchange));
      case BLOB_MOUNT -> counted(exchange, new MountQuota(policy, exchange));
      case MANIFEST_PUT -> counted(exchange, new ManifestPutQuota(policy, exchange));
      case BLOB_DELETE, MANIFEST_DELETE, UPLOAD_CANCEL -> new DeleteQuota(policy, exchange);
      case BLOB_GET, MANIFEST_GET -> new PullQuota(policy, exchange);
      default -> ExchangeQuota.NONE;
    };
  }

  /**
   * A push request counted against its client's requests in flight, or refused at once (429, which says
   * nothing about any scope) when the client has as many as it may.
   */
  private ExchangeQuota counted(ExchangeView exchange, ExchangeQuota rules) {
    String client = exchange.clientAddress();
    if (!policy.pushes.tryEnter(client)) {
      OciError refusal = QuotaErrors.tooManyPushes(client, policy.pushes.maxPerClient());
      return new ExchangeQuota() {
        @Override
        public Future<Admission> admit() {
          return Future.succeededFuture(Admission.refuse(refusal));
        }
      };
    }
    return new CountedPush(rules, () -> policy.pushes.leave(client));
  }
}
