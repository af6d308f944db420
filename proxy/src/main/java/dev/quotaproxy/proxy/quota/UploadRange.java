package dev.quotaproxy.proxy.quota;

/**
 * How many bytes a registry holds of an upload session, from the {@code Range} header of its answer to
 * {@code GET} on the upload URL ({@code 0-<last byte>}, distribution-spec). Pure.
 */
final class UploadRange {
  private UploadRange() {}

  /**
   * The bytes held, or -1 when the header is absent or malformed. {@code 0-0} is ambiguous (CNCF
   * distribution sends it for both an empty session and a one-byte one): read as one byte, the larger,
   * since what is held must never be undercounted; the commit's size is asked of the registry anyway.
   */
  static long storedBytes(String range) {
    if (range == null) {
      return -1;
    }
    String value = range.trim();
    if (value.startsWith("bytes=")) {
      value = value.substring("bytes=".length());
    }
    int dash = value.indexOf('-');
    if (dash <= 0 || !value.substring(0, dash).equals("0")) {
      return -1;
    }
    try {
      long last = Long.parseLong(value.substring(dash + 1));
      return last < 0 ? -1 : last + 1;
    } catch (NumberFormatException e) {
      return -1;
    }
  }
}
