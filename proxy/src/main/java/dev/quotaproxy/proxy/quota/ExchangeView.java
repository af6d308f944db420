package dev.quotaproxy.proxy.quota;

import dev.quotaproxy.proxy.route.OciRequest;
import dev.quotaproxy.proxy.quota.ExchangeQuota.UpstreamAnswer;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import java.time.Duration;

/** What quota enforcement may see of, and ask from, the exchange it runs in. */
public interface ExchangeView {
  OciRequest oci();

  /** Who the request acts for: Basic user name, a Bearer token's subject, or {@code anonymous}. */
  String user();

  /**
   * Whether the client went away before the registry answered: its body upstream was closed where it
   * stood (or was whole), and the answer is seen only for the books.
   */
  boolean clientGone();

  /** Body bytes handed upstream so far (what the registry may have received of this request). */
  long bodyBytesSentUpstream();

  /** The address the request came from: what per-client limits count by. */
  String clientAddress();

  /** The declared body length, or -1 when the body is chunked or there is none. */
  long contentLength();

  boolean chunked();

  String contentType();

  /**
   * Answers 100-continue if the client asked for it, and reads the whole body. Fails with
   * {@link BodyTooLargeException} as soon as it passes {@code maxBytes}, and with
   * {@link BodyTimeoutException} when its first byte does not come within the exchange's first-byte
   * deadline or the whole of it within {@code deadline}.
   */
  Future<Buffer> readBody(int maxBytes, Duration deadline);

  /**
   * Asks the registry, with the client's own credentials, a request of the proxy's: a {@code HEAD} for a
   * blob's size, a {@code GET} of an upload's status, a {@code DELETE} of an upload the proxy refused. The
   * body is kept only when small (an error's); fails only when the registry could not be asked.
   */
  Future<UpstreamAnswer> askUpstream(HttpMethod method, String uri);

  /** The size of a blob (or, with {@code manifest}, a manifest) in a repository of the registry, or -1. */
  default Future<Long> upstreamSize(String repository, String digest, boolean manifest) {
    String uri = "/v2/" + repository + (manifest ? "/manifests/" : "/blobs/") + digest;
    return askUpstream(HttpMethod.HEAD, uri).map(answer -> {
      String length = answer.header("Content-Length");
      if (answer.status() != 200 || length == null) {
        return -1L;
      }
      try {
        return Long.parseLong(length.trim());
      } catch (NumberFormatException e) {
        return -1L;
      }
    }).otherwise(-1L);
  }

  /** The request URI as received, path and query. */
  String uri();

  final class BodyTooLargeException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public BodyTooLargeException(int maxBytes) {
      super("body larger than " + maxBytes + " bytes", null, false, false);
    }
  }

  final class BodyTimeoutException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public BodyTimeoutException(String message) {
      super(message, null, false, false);
    }
  }
}
