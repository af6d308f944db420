package dev.quotaproxy.oci;

import java.util.regex.Pattern;

/**
 * The grammars for repository names, tags and digests, as CNCF distribution 2.8 routes them
 * ({@code reference/regexp.go}, go-digest's {@code DigestRegexp}).
 */
public final class OciNames {
  /** Distribution refuses longer names; clients commonly limit to the same. */
  public static final int MAX_NAME_LENGTH = 255;

  /**
   * A registry host and port, which distribution's name grammar allows as the first of two or more
   * components: {@code Acme/app} and {@code registry.example.com:5000/app} are names it routes and
   * stores (a ':' then fails in its storage driver).
   */
  private static final Pattern DOMAIN = Pattern.compile(
      "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?");
  private static final int MAX_TAG_LENGTH = 128;

  private OciNames() {}

  /**
   * {@code acme/team/app}: slash-separated lowercase components, the first of several may be a host
   * ({@code Acme/app}); at most 255 characters, longer names distribution refuses before any handler.
   */
  public static boolean isRepositoryName(String name) {
    if (name.isEmpty() || name.length() > MAX_NAME_LENGTH) {
      return false;
    }
    int start = 0;
    while (true) {
      int slash = name.indexOf('/', start);
      int end = slash < 0 ? name.length() : slash;
      // The host form only where the component grammar fails: rare, and a regular expression is plain enough for it.
      if (!isComponent(name, start, end) && !(start == 0 && slash >= 0 && DOMAIN.matcher(name.subSequence(0, end)).matches())) {
        return false;
      }
      if (slash < 0) {
        return true;
      }
      start = slash + 1;
    }
  }

  /** {@code [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}}. */
  public static boolean isTag(String text) {
    if (text.isEmpty() || text.length() > MAX_TAG_LENGTH || !(isAlnum(text.charAt(0)) || text.charAt(0) == '_')) {
      return false;
    }
    for (int i = 1; i < text.length(); i++) {
      char c = text.charAt(i);
      if (!(isAlnum(c) || c == '.' || c == '_' || c == '-')) {
        return false;
      }
    }
    return true;
  }

  /**
   * {@code algorithm:encoded}, e.g. {@code sha256:<64 hex>}; the registry checks the algorithm's own rules.
   * The grammar: {@code [a-z0-9]+([.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+}.
   */
  public static boolean isDigest(String text) {
    int colon = text.indexOf(':');
    if (colon <= 0 || colon == text.length() - 1) {
      return false;
    }
    boolean separated = true;
    for (int i = 0; i < colon; i++) {
      char c = text.charAt(i);
      if (isLowerAlnum(c)) {
        separated = false;
      } else if ((c == '.' || c == '+' || c == '_' || c == '-') && !separated) {
        separated = true;
      } else {
        return false;
      }
    }
    if (separated) {
      return false;
    }
    for (int i = colon + 1; i < text.length(); i++) {
      char c = text.charAt(i);
      if (!(isAlnum(c) || c == '=' || c == '_' || c == '-')) {
        return false;
      }
    }
    return true;
  }

  public static boolean isReference(String text) {
    return isTag(text) || isDigest(text);
  }

  /**
   * A path component, {@code [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*}, in {@code name} from {@code start} to
   * {@code end}: runs of lower-case letters and digits, joined by '.', '_', "__" or any number of '-'.
   * Checked in place: every proxied request's name goes through it.
   */
  static boolean isComponent(String name, int start, int end) {
    int i = start;
    while (true) {
      int run = i;
      while (i < end && isLowerAlnum(name.charAt(i))) {
        i++;
      }
      if (i == run) {
        return false;
      }
      if (i == end) {
        return true;
      }
      char c = name.charAt(i);
      if (c == '.') {
        i++;
      } else if (c == '_') {
        i += i + 1 < end && name.charAt(i + 1) == '_' ? 2 : 1;
      } else if (c == '-') {
        while (i < end && name.charAt(i) == '-') {
          i++;
        }
      } else {
        return false;
      }
    }
  }

  private static boolean isLowerAlnum(char c) {
    return c >= 'a' && c <= 'z' || c >= '0' && c <= '9';
  }

  private static boolean isAlnum(char c) {
    return isLowerAlnum(c) || c >= 'A' && c <= 'Z';
  }
}
