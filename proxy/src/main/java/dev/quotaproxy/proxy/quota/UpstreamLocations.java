package dev.quotaproxy.proxy.quota;

import java.net.URI;

/** The path and query of a URL the registry gave (absolute, or a path), to ask it again. Pure. */
final class UpstreamLocations {
  private UpstreamLocations() {}

  static String pathAndQuery(String location) {
    if (location.startsWith("/")) {
      return location;
    }
    try {
      URI uri = URI.create(location);
      String path = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
      return uri.getRawQuery() == null ? path : path + "?" + uri.getRawQuery();
    } catch (IllegalArgumentException e) {
      return location;
    }
  }
}
