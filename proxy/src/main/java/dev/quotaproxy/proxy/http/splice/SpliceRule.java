package dev.quotaproxy.proxy.http.splice;

/**
 * Which upstream answers are worth moving kernel to kernel: a body of known length, large enough
 * that the cost of not reusing the upstream connection afterwards is lost in the transfer. Only
 * 200 and 206 qualify; every other status is small, or carries an error the client must see as sent.
 */
public final class SpliceRule {
  /** Below this the copy through the proxy costs less than a new upstream connection for the next request. */
  public static final long MIN_BODY_BYTES = 1024 * 1024;

  private SpliceRule() {
  }

  /**
   * The body length of an answer to splice, or -1 when it must go through the HTTP decoder.
   *
   * @param status           the upstream status code
   * @param contentLength    the upstream Content-Length header, as sent (null when absent)
   * @param transferEncoding whether the upstream sent any Transfer-Encoding (which overrides Content-Length)
   */
  public static long spliceableLength(int status, String contentLength, boolean transferEncoding) {
    if ((status != 200 && status != 206) || transferEncoding || contentLength == null) {
      return -1;
    }
    String digits = contentLength.trim();
    if (digits.isEmpty() || digits.length() > 18 || !digits.chars().allMatch(c -> c >= '0' && c <= '9')) {
      // Several values ("5, 5"), signs or garbage: the decoder rejects or settles those, not us.
      return -1;
    }
    long length = Long.parseLong(digits);
    return length >= MIN_BODY_BYTES ? length : -1;
  }
}
