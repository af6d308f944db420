package dev.quotaproxy.proxy.quota;

import dev.quotaproxy.proxy.oci.OciNames;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;

/**
 * Deletes, allowed even when the registry is read-only (they are how space is freed): once the
 * registry answers 202, a deleted blob leaves the repository's scopes (unless a manifest of the
 * repository still references it: the registry's garbage collection keeps it, so it stays charged), and
 * a manifest deleted by digest takes with it the blobs no remaining manifest of the repository
 * references. Deleting a tag changes no usage: the manifest stays. Cancelling an upload session releases
 * its reservation.
 */
final class DeleteQuota implements ExchangeQuota {
  private final QuotaEnforcer enforcer;
  private final ExchangeView exchange;

  DeleteQuota(QuotaEnforcer enforcer, ExchangeView exchange) {
    this.enforcer = enforcer;
    this.exchange = exchange;
  }

  @Override
  public Future<Answer> answered(int status, MultiMap headers) {
    if (status / 100 != 2) {
      return Future.succeededFuture(Answer.RELAY);
    }
    String repository = exchange.oci().repository();
    Future<?> recorded = switch (exchange.oci().operation()) {
      case BLOB_DELETE -> enforcer.store.dropBlob(repository, exchange.oci().digest(), exchange.user());
      case MANIFEST_DELETE -> OciNames.isDigest(exchange.oci().reference())
          ? enforcer.store.dropManifest(repository, exchange.oci().reference(), exchange.user())
          : Future.succeededFuture();
      case UPLOAD_CANCEL -> enforcer.store.release(repository, QuotaEnforcer.sessionId(exchange.oci().uploadId()), -1);
      default -> Future.succeededFuture();
    };
    return recorded.map(Answer.RELAY)
        .recover(e -> enforcer.<Answer>recordFailure(exchange, "delete", e).otherwise(Answer.RELAY));
  }
}
