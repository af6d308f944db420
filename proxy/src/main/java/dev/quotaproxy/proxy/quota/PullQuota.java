package dev.quotaproxy.proxy.quota;

import dev.quotaproxy.proxy.oci.OciOperation;
import dev.quotaproxy.proxy.quota.QuotaStore.Traffic;
import io.vertx.core.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Blob and manifest GETs: a scope over its egress limit gets 429 with {@code Retry-After} before the
 * transfer starts; the bytes sent are counted on the stream and added to every scope's egress when
 * the response ends. Pulls keep working when the store cannot be reached.
 */
final class PullQuota implements ExchangeQuota {
  private static final Logger LOG = LoggerFactory.getLogger(PullQuota.class);

  private final QuotaEnforcer enforcer;
  private final ExchangeView exchange;

  PullQuota(QuotaEnforcer enforcer, ExchangeView exchange) {
    this.enforcer = enforcer;
    this.exchange = exchange;
  }

  @Override
  public Future<Admission> admit() {
    return enforcer.store.reserveEgress(exchange.oci().repository(), 0)
        .map(grant -> grant.allowed() ? Admission.FORWARD : Admission.refuse(enforcer.egressRefusal(exchange, grant.refusal())))
        .otherwise(e -> {
          LOG.warn("{}: egress not checked, quota store unreachable: {}", exchange.oci().repository(), e.toString());
          return Admission.FORWARD;
        });
  }

  @Override
  public void ended(int status, long bytesIn, long bytesOut) {
    if (status / 100 != 2) {
      return;  // an error body is not a pull
    }
    boolean pulled = exchange.oci().operation() == OciOperation.MANIFEST_GET;
    enforcer.meter(exchange, new Traffic(0, bytesOut, 0, pulled ? 1 : 0));
  }
}
