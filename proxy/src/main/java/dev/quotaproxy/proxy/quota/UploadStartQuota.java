package dev.quotaproxy.proxy.quota;

import dev.quotaproxy.proxy.route.OciError;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.http.HttpMethod;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code POST /v2/<name>/blobs/uploads/}: charges nothing, but refuses when the registry is read-only or a
 * scope of the path is already at or over its hard limit, so a client does not start an upload that
 * cannot end.
 *
 * <p>The decision waits for the registry's {@code 202}: only then is the client known to be one the
 * registry authorises, so only then may it learn a scope's figures, and only then is the session
 * recorded in the store (clean: the proxy will see all its bytes). A refused session is cancelled at the
 * registry with the client's own credentials. Also used for the {@code 202} a registry gives to a
 * monolithic upload or a mount it turned into a plain session.
 */
final class UploadStartQuota implements ExchangeQuota {
  private static final Logger LOG = LoggerFactory.getLogger(UploadStartQuota.class);

  private final QuotaPolicy policy;
  private final ExchangeView exchange;

  UploadStartQuota(QuotaPolicy policy, ExchangeView exchange) {
    this.policy = policy;
    this.exchange = exchange;
  }

  @Override
  public Future<Answer> answered(int status, MultiMap headers) {
    return sessionOpened(status, headers);
  }

  /** The registry answered an upload start: a {@code 202} opened a session, to record or to refuse. */
  Future<Answer> sessionOpened(int status, MultiMap headers) {
    String location = headers.get("Location");
    if (status != 202 || location == null) {
      return Future.succeededFuture(Answer.RELAY);
    }
    String uploadId = uploadId(location);
    Optional<OciError> readOnly = policy.readOnlyRefusal(exchange);
    if (readOnly.isPresent()) {
      return cancelled(location, readOnly.get());
    }
    String repository = exchange.oci().repository();
    return policy.store.openSession(repository, QuotaPolicy.sessionId(uploadId))
        .compose(opened -> opened.granted()
            ? Future.succeededFuture(Answer.RELAY)
            : cancelled(location, policy.storageRefusal(exchange, opened.denial())))
        .recover(e -> {
          Admission unreachable = policy.storeUnreachable(exchange, e);
          return unreachable.refused() ? cancelled(location, unreachable.refusal()) : Future.succeededFuture(Answer.RELAY);
        });
  }

  /** Cancels the session the registry opened (best effort: it expires there anyway) and refuses. */
  private Future<Answer> cancelled(String location, OciError refusal) {
    return exchange.askUpstream(HttpMethod.DELETE, UpstreamLocations.pathAndQuery(location))
        .onFailure(e -> LOG.warn("{}: refused upload session not cancelled at the registry: {}", exchange.oci().repository(), e.toString()))
        .<Answer>map(answer -> Answer.refuse(refusal))
        .otherwise(Answer.refuse(refusal));
  }

  /** The upload id a session's URL ends with: what the client's later requests carry in their path. */
  static String uploadId(String location) {
    String path = UpstreamLocations.pathAndQuery(location);
    int query = path.indexOf('?');
    if (query >= 0) {
      path = path.substring(0, query);
    }
    return path.substring(path.lastIndexOf('/') + 1);
  }
}
