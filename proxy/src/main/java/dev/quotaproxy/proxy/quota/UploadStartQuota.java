package dev.quotaproxy.proxy.quota;

import io.vertx.core.Future;
import java.util.UUID;

/**
 * {@code POST /v2/<name>/blobs/uploads/}: charges nothing, but refuses at once when the registry is
 * read-only or a scope of the path is already at or over its hard limit, so a client does not start
 * an upload that cannot end.
 */
final class UploadStartQuota implements ExchangeQuota {
  private final QuotaEnforcer enforcer;
  private final ExchangeView exchange;

  UploadStartQuota(QuotaEnforcer enforcer, ExchangeView exchange) {
    this.enforcer = enforcer;
    this.exchange = exchange;
  }

  @Override
  public Future<Admission> admit() {
    return enforcer.unlessReadOnly(exchange, this::decide);
  }

  private Future<Admission> decide() {
    String check = "check-" + UUID.randomUUID();
    return enforcer.reserveThroughContention(() -> enforcer.store.reserveBytes(exchange.oci().repository(), check, null, 0, 0))
        .map(r -> r.granted() ? Admission.FORWARD : Admission.refuse(enforcer.storageRefusal(exchange, r.denial())))
        .recover(e -> Future.succeededFuture(enforcer.storeUnreachable(exchange, e)));
  }
}
