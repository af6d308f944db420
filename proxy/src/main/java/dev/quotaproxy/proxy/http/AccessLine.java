package dev.quotaproxy.proxy.http;

/**
 * One access-log line: a JSON object with its fields in a fixed order, written straight into a builder
 * (no map, no encoder: the line is built once per request). The path, the user and the repository come from
 * the client, so every string is escaped as JSON requires: a quote, a backslash or a control character in a
 * path can neither end the field nor forge another line.
 */
final class AccessLine {
  private static final char[] HEX = "0123456789abcdef".toCharArray();

  private AccessLine() {}

  /** Appends the line, without its line break. A null repository is {@code null}. */
  static void append(StringBuilder out, String operation, String repository, String method, String path, String user, int status,
      long bytesIn, long bytesOut, long millis, String outcome) {
    out.append("{\"op\":");
    string(out, operation);
    out.append(",\"repo\":");
    string(out, repository);
    out.append(",\"method\":");
    string(out, method);
    out.append(",\"path\":");
    string(out, path);
    out.append(",\"user\":");
    string(out, user);
    out.append(",\"status\":").append(status)
        .append(",\"bytes_in\":").append(bytesIn)
        .append(",\"bytes_out\":").append(bytesOut)
        .append(",\"ms\":").append(millis)
        .append(",\"outcome\":");
    string(out, outcome);
    out.append('}');
  }

  private static void string(StringBuilder out, String value) {
    if (value == null) {
      out.append("null");
      return;
    }
    out.append('"');
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          // Other control characters, and the line and paragraph separators some readers take for line breaks.
          if (c < 0x20 || c == 0x7f || c == '\u2028' || c == '\u2029') {
            out.append("\\u").append(HEX[(c >> 12) & 0xf]).append(HEX[(c >> 8) & 0xf]).append(HEX[(c >> 4) & 0xf]).append(HEX[c & 0xf]);
          } else {
            out.append(c);
          }
        }
      }
    }
    out.append('"');
  }
}
