package dev.quotaproxy.config;

import java.util.regex.Pattern;

/**
 * Keeps passwords in URLs ({@code rediss://:secret@host}, {@code redis://host?password=secret}) out of
 * problem messages and logs, which end up in terminals, CI output and log stores. The user name is
 * kept: it helps find a mistake.
 */
final class Redaction {
  private static final Pattern USER_INFO_PASSWORD = Pattern.compile("^(\\s*[a-zA-Z][a-zA-Z0-9+.-]*://[^/@:?#]*:)[^/@?#]*@");
  private static final Pattern USER_INFO_WITHOUT_USER = Pattern.compile("^(\\s*[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@:?#]+@");
  // The Vert.x Redis client also takes the password from the query.
  private static final Pattern PASSWORD_PARAMETER = Pattern.compile("([?&]password=)[^&#]*");

  private Redaction() {}

  /**
   * {@code redis://app:s3cret@h} becomes {@code redis://app:***@h}. A user info without a colon is
   * hidden whole: some Redis clients read a lone {@code redis://s3cret@h} as the password, and hiding
   * a user name by mistake costs little.
   */
  static String hidePassword(String text) {
    // A list of URLs (redis.nodes): each one's password is hidden.
    if (text.indexOf(',') >= 0) {
      return java.util.Arrays.stream(text.split(",", -1)).map(Redaction::hideOne).collect(java.util.stream.Collectors.joining(","));
    }
    return hideOne(text);
  }

  private static String hideOne(String text) {
    String hidden = USER_INFO_PASSWORD.matcher(text).replaceFirst("$1***@");
    hidden = USER_INFO_WITHOUT_USER.matcher(hidden).replaceFirst("$1***@");
    return PASSWORD_PARAMETER.matcher(hidden).replaceAll("$1***");
  }
}
