package dev.quotaproxy.proxy.quota;

import dev.quotaproxy.oci.Scopes;
import dev.quotaproxy.proxy.route.OciOperation;
import dev.quotaproxy.metering.QuotaStore.EgressGrant;
import dev.quotaproxy.metering.QuotaStore.Traffic;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Blob and manifest GETs. Decided on the registry's answer, so only for a client the registry serves:
 * the body's length ({@code Content-Length}) is reserved against every scope's egress window before a
 * byte of it moves, so parallel pulls cannot together outrun a limit (N pulls with room for one: one 200,
 * N-1 429s); a pull that does not fit gets 429 with {@code Retry-After} and its body is never taken from
 * the registry. A redirect to object storage is charged the blob's known size. When the pull ends, the
 * reservation is settled to the bytes actually sent. Pulls keep working when the store cannot be reached.
 */
final class PullQuota implements ExchangeQuota {
  private static final Logger LOG = LoggerFactory.getLogger(PullQuota.class);

  private final QuotaPolicy policy;
  private final ExchangeView exchange;
  private EgressGrant grant;
  private boolean redirect;

  PullQuota(QuotaPolicy policy, ExchangeView exchange) {
    this.policy = policy;
    this.exchange = exchange;
  }

  @Override
  public Future<Answer> answered(int status, MultiMap headers) {
    String repository = exchange.oci().repository();
    Future<Long> bytes;
    if (status == 200 || status == 206) {
      bytes = Future.succeededFuture(contentLength(headers));
    } else if (isRedirect(status) && exchange.oci().operation() == OciOperation.BLOB_GET) {
      // The bytes come from elsewhere (object storage): the blob's size is what leaves the registry.
      redirect = true;
      bytes = policy.store.sizeOf(Scopes.namespace(repository), exchange.oci().digest()).map(size -> Math.max(0, size));
    } else {
      return Future.succeededFuture(Answer.RELAY);
    }
    return bytes.compose(length -> policy.store.reserveEgress(repository, length))
        .map(reserved -> {
          if (!reserved.allowed()) {
            return Answer.refuse(policy.egressRefusal(exchange, reserved.refusal()));
          }
          grant = reserved;
          return Answer.RELAY;
        })
        .otherwise(e -> {
          LOG.warn("{}: egress not checked, quota store unreachable: {}", repository, e.toString());
          return Answer.RELAY;
        });
  }

  /** A redirect sends the client elsewhere for the bytes; a 304 (or 300) sends no bytes at all and is no pull. */
  private static boolean isRedirect(int status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
  }

  /** The body's declared length; 0 when unknown (chunked), which is then counted as it goes and settled at the end. */
  private static long contentLength(MultiMap headers) {
    String length = headers.get("Content-Length");
    if (length == null) {
      return 0;
    }
    try {
      return Math.max(0, Long.parseLong(length.trim()));
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  @Override
  public void ended(int status, long bytesIn, long bytesOut) {
    String repository = exchange.oci().repository();
    long sent = redirect && grant != null ? grant.reservedBytes() : bytesOut;
    // A grant that reserved in no window (no scope of the path has an egress limit) has nothing to settle.
    if (grant != null && grant.windows().stream().anyMatch(window -> !window.isEmpty())) {
      policy.store.settleEgress(repository, grant, sent)
          .onFailure(e -> LOG.warn("{}: egress reservation not settled: {}", repository, e.toString()));
    }
    if (status / 100 != 2 && !redirect) {
      return; // an error body is not a pull
    }
    boolean pulled = exchange.oci().operation() == OciOperation.MANIFEST_GET;
    policy.meter(exchange, new Traffic(0, sent, 0, pulled ? 1 : 0));
  }
}
