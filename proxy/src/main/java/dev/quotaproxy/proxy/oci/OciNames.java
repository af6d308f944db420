package dev.quotaproxy.proxy.oci;

import java.util.regex.Pattern;

/** The distribution-spec grammars for repository names, tags and digests. */
public final class OciNames {
  /** Distribution refuses longer names; clients commonly limit to the same. */
  public static final int MAX_NAME_LENGTH = 255;

  private static final Pattern COMPONENT = Pattern.compile("[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*");
  private static final Pattern TAG = Pattern.compile("[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}");
  private static final Pattern DIGEST = Pattern.compile("[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+");

  private OciNames() {}

  /** {@code acme/team/app}: slash-separated lowercase components, at most 255 characters. */
  public static boolean isRepositoryName(String name) {
    if (name.isEmpty() || name.length() > MAX_NAME_LENGTH) {
      return false;
    }
    for (String component : name.split("/", -1)) {
      if (!COMPONENT.matcher(component).matches()) {
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
