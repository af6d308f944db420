package dev.quotaproxy.proxy.http;

import dev.quotaproxy.proxy.route.OciError;
import io.netty.channel.ConnectTimeoutException;
import io.vertx.core.http.ConnectionPoolTooBusyException;
import java.net.ConnectException;
import java.net.UnknownHostException;
import javax.net.ssl.SSLException;

/**
 * What the client is told when the upstream registry could not be used: the kind of failure, as the
 * registry's own error form. Where the registry lives and the low-level cause go only to the log
 * ({@link #describe}).
 */
final class UpstreamFailures {
  private UpstreamFailures() {}

  /**
   * The answer for a request the registry never answered because of {@code cause}: 503 with a retry
   * when the pool's wait queue is full, 504 when the connection was not accepted in time, else 502.
   *
   * @param connectTimeoutMillis the upstream connect timeout, which the 504's message names
   */
  static OciError answerFor(Throwable cause, long connectTimeoutMillis) {
    if (cause instanceof ConnectionPoolTooBusyException) {
      return OciError.unavailable("too many requests waiting for a connection to the upstream registry", 1);
    } else if (cause instanceof ConnectTimeoutException) {
      return OciError.gatewayTimeout("the upstream registry did not accept a connection within " + connectTimeoutMillis + "ms");
    } else if (cause instanceof ConnectException || cause instanceof UnknownHostException) {
      return OciError.badGateway("the upstream registry is unreachable");
    } else if (cause instanceof SSLException) {
      return OciError.badGateway("TLS with the upstream registry failed");
    }
    return OciError.badGateway("the upstream registry failed to answer");
  }

  /** The answer for a request the registry took whole and did not answer within the idle timeout. */
  static OciError noAnswerWithin(long idleTimeoutMillis) {
    return OciError.gatewayTimeout("the upstream registry did not answer within " + idleTimeoutMillis + "ms");
  }

  /** The failure's message, and its root cause's where that says more ("PKIX path building failed ..."). */
  static String describe(Throwable e) {
    String message = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    return root != e && root.getMessage() != null && !message.contains(root.getMessage()) ? message + ": " + root.getMessage() : message;
  }
}
