package dev.quotaproxy.oci;

import java.util.regex.Pattern;

/**
 * The grammars for repository names, tags and digests, as CNCF distribution 2.8 routes them
 * ({@code reference/regexp.go}, go-digest's {@code DigestRegexp}).
 */
public final class OciNames {
  /** Distribution refuses longer names; clients commonly limit to the same. */
  public static final int MAX_NAME_LENGTH = 255;

  private static final Pattern COMPONENT = Pattern.compile("[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*");
  /**
   * A registry host and port, which distribution's name grammar allows as the first of two or more
   * components: {@code Acme/app} and {@code registry.example.com:5000/app} are names it routes and
   * stores (a ':' then fails in its storage driver).
   */
  private static final Pattern DOMAIN = Pattern.compile(
      "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?");
  private static final Pattern TAG = Pattern.compile("[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}");
  private static final Pattern DIGEST = Pattern.compile("[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+");

  private OciNames() {}

  /**
   * {@code acme/team/app}: slash-separated lowercase components, the first of several may be a host
   * ({@code Acme/app}); at most 255 characters, longer names distribution refuses before any handler.
   */
  public static boolean isRepositoryName(String name) {
    if (name.isEmpty() || name.length() > MAX_NAME_LENGTH) {
      return false;
    }
    String[] components = name.split("/", -1);
    for (int i = 0; i < components.length; i++) {
      boolean host = i == 0 && components.length > 1 && DOMAIN.matcher(components[i]).matches();
      if (!host && !COMPONENT.matcher(components[i]).matches()) {
        return false;
      }
    }
    return true;
  }

  public static boolean isTag(String text) {
    return TAG.matcher(text).matches();
  }

  /** {@code algorithm:encoded}, e.g. {@code sha256:<64 hex>}; the registry checks the algorithm's own rules. */
  public static boolean isDigest(String text) {
    return DIGEST.matcher(text).matches();
  }

  public static boolean isReference(String text) {
    return isTag(text) || isDigest(text);
  }
}
