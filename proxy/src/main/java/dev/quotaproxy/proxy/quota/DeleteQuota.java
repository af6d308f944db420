package dev.quotaproxy.proxy.quota;

import dev.quotaproxy.oci.OciNames;
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
  private final QuotaPolicy policy;
  private final ExchangeView exchange;
  private final String requestId = QuotaPolicy.requestId();
  /**
   * Whether this delete has an intent: held by this process from the moment it is asked for, and in Redis
   * once recorded there.
   */
  private boolean intending;

  DeleteQuota(QuotaPolicy policy, ExchangeView exchange) {
    this.policy = policy;
    this.exchange = exchange;
  }

  /**
   * A delete that may unlink a blob or a manifest records that before it goes (see
   * {@link QuotaStore#intendDelete}): if its drop is not recorded after the registry's 202, this process
   * (or, if it died, another) asks the registry and records it. Deletes are never refused: if Redis cannot
   * record the intent, this process's copy of it still settles a drop that fails.
   */
  @Override
  public Future<Admission> admit() {
    String repository = exchange.oci().repository();
    intending = switch (exchange.oci().operation()) {
      case BLOB_DELETE -> OciNames.isDigest(exchange.oci().digest());
      case MANIFEST_DELETE -> OciNames.isDigest(exchange.oci().reference());
      default -> false;
    };
    Future<Void> intended = switch (exchange.oci().operation()) {
      case BLOB_DELETE -> OciNames.isDigest(exchange.oci().digest())
          ? policy.store.intendDelete(repository, requestId, exchange.oci().digest(), false)
          : Future.succeededFuture();
      case MANIFEST_DELETE -> OciNames.isDigest(exchange.oci().reference())
          ? policy.store.intendDelete(repository, requestId, exchange.oci().reference(), true)
          : Future.succeededFuture();
      default -> Future.succeededFuture();
    };
    return intended.map(Admission.FORWARD).otherwise(Admission.FORWARD);
  }

  @Override
  public Future<Answer> answered(int status, MultiMap headers) {
    String repository = exchange.oci().repository();
    if (status / 100 != 2) {
      // Awaited: the client's next request finds the intent gone.
      return endIntent(repository).map(Answer.RELAY).otherwise(Answer.RELAY);
    }
    Future<?> recorded = switch (exchange.oci().operation()) {
      case BLOB_DELETE -> policy.store.dropBlob(repository, exchange.oci().digest(), exchange.user(), intending ? requestId : null);
      case MANIFEST_DELETE -> OciNames.isDigest(exchange.oci().reference())
          ? policy.store.dropManifest(repository, exchange.oci().reference(), exchange.user(), intending ? requestId : null)
          : Future.succeededFuture();
      case UPLOAD_CANCEL -> policy.store.release(repository, QuotaPolicy.sessionId(exchange.oci().uploadId()), -1);
      default -> Future.succeededFuture();
    };
    return recorded.map(Answer.RELAY)
        .recover(e -> policy.<Answer>recordFailure(exchange, "delete", e).otherwise(Answer.RELAY));
  }

  @Override
  public void ended(int status, long bytesIn, long bytesOut) {
    // A drop that failed leaves the intent unsettled: RegistryIntents asks the registry and records it.
    policy.store.requestEnded(requestId);
  }

  /** The registry did not delete: the intent goes (by ending the request's id). */
  private Future<Void> endIntent(String repository) {
    if (!intending) {
      return Future.succeededFuture();
    }
    intending = false;
    return policy.store.release(repository, requestId, -1);
  }
}
