package dev.quotaproxy.admin.reports;

import java.util.List;

/**
 * CSV as RFC 4180 writes it: comma-separated, CRLF line ends, fields quoted when they must be, and text
 * that a spreadsheet would take for a formula defused. Pure.
 */
final class Csv {
  private Csv() {}

  /**
   * The field as CSV: quoted, with its quotes doubled, when it holds a comma, a quote, a line break or
   * leading or trailing space (which some readers would trim); as it is otherwise.
   */
  static String field(String value) {
    value = defused(value);
    boolean quote = !value.isEmpty() && (Character.isWhitespace(value.charAt(0))
        || Character.isWhitespace(value.charAt(value.length() - 1)));
    for (int i = 0; i < value.length() && !quote; i++) {
      char c = value.charAt(i);
      quote = c == ',' || c == '"' || c == '\r' || c == '\n';
    }
    return quote ? '"' + value.replace("\"", "\"\"") + '"' : value;
  }

  /**
   * A text a spreadsheet would run as a formula ({@code =}, {@code +}, {@code -}, {@code @}, a tab or a
   * carriage return first) gets a leading {@code '}, which spreadsheets show as text. User names come
   * from what clients send (a Basic-auth user, a token's {@code sub}), and reports are opened in
   * spreadsheets by admins: such a name must not become a formula there. Numbers, negative ones
   * included, stay as they are.
   */
  static String defused(String value) {
    if (value.isEmpty() || "=+-@\t\r".indexOf(value.charAt(0)) < 0 || NUMBER.matcher(value).matches()) {
      return value;
    }
    return "'" + value;
  }

  private static final java.util.regex.Pattern NUMBER = java.util.regex.Pattern.compile("[-+]?\\d+(\\.\\d+)?");

  /** One record, CRLF-terminated. */
  static String line(List<String> fields) {
    StringBuilder line = new StringBuilder();
    for (int i = 0; i < fields.size(); i++) {
      if (i > 0) {
        line.append(',');
      }
      line.append(field(fields.get(i)));
    }
    return line.append("\r\n").toString();
  }
}
