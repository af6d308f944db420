package dev.quotaproxy.proxy.quota;

import dev.quotaproxy.proxy.oci.OciRequest;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;

/** What quota enforcement may see of, and ask from, the exchange it runs in. */
public interface ExchangeView {
  OciRequest oci();

  /** Who the request acts for: Basic user name, a Bearer token's subject, or {@code anonymous}. */
  String user();

  /** The declared body length, or -1 when the body is chunked or there is none. */
  long contentLength();

  boolean chunked();

  String contentType();

  /**
   * Answers 100-continue if the client asked for it, and reads the whole body. Fails with
   * {@link BodyTooLargeException} as soon as it passes {@code maxBytes}.
   */
  Future<Buffer> readBody(int maxBytes);

  /** The size of a blob in the upstream registry, asked with the client's own credentials, or -1. */
  Future<Long> upstreamBlobSize(String repository, String digest);

  /** The request URI as received, path and query. */
  String uri();

  final class BodyTooLargeException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public BodyTooLargeException(int maxBytes) {
      super("body larger than " + maxBytes + " bytes", null, false, false);
    }
  }
}
