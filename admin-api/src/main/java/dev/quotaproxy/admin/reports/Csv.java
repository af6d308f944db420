package dev.quotaproxy.admin.reports;

import java.util.List;

/** CSV as RFC 4180 writes it: comma-separated, CRLF line ends, fields quoted when they must be. Pure. */
final class Csv {
  private Csv() {}

  /**
   * The field as CSV: quoted, with its quotes doubled, when it holds a comma, a quote, a line break or
   * leading or trailing space (which some readers would trim); as it is otherwise.
   */
  static String field(String value) {
    boolean quote = !value.isEmpty() && (Character.isWhitespace(value.charAt(0))
        || Character.isWhitespace(value.charAt(value.length() - 1)));
    for (int i = 0; i < value.length() && !quote; i++) {
      char c = value.charAt(i);
      quote = c == ',' || c == '"' || c == '\r' || c == '\n';
    }
    return quote ? '"' + value.replace("\"", "\"\"") + '"' : value;
  }

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
