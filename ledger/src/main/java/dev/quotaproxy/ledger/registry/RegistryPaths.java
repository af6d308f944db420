package dev.quotaproxy.ledger.registry;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

/**
 * Request paths of the distribution API, built only from names, tags and digests that are safe to splice
 * into a path. These checks are not the distribution grammar (the proxy's {@code OciNames} is, and the
 * registry enforces it): they only keep what a registry answered from turning into a different request
 * ({@code ..}, {@code ?}, {@code %}, spaces).
 */
final class RegistryPaths {
  private static final Pattern NAME = Pattern.compile("[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*");
  private static final Pattern TAG = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9._-]*");
  private static final Pattern DIGEST = Pattern.compile("[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[A-Za-z0-9=_-]+");

  private RegistryPaths() {}

  static boolean isSafeName(String name) {
    return NAME.matcher(name).matches();
  }

  static boolean isSafeTag(String tag) {
    return TAG.matcher(tag).matches();
  }

  static boolean isSafeDigest(String digest) {
    return DIGEST.matcher(digest).matches();
  }

  static String catalog(int pageSize, String after) {
    return "/v2/_catalog?n=" + pageSize + (after == null ? "" : "&last=" + query(after));
  }

  static String tags(String repository, int pageSize) {
    return "/v2/" + repository + "/tags/list?n=" + pageSize;
  }

  static String manifest(String repository, String reference) {
    return "/v2/" + repository + "/manifests/" + reference;
  }

  static String blob(String repository, String digest) {
    return "/v2/" + repository + "/blobs/" + digest;
  }

  private static String query(String value) {
    return URLEncoder.encode(value, StandardCharsets.UTF_8);
  }
}
