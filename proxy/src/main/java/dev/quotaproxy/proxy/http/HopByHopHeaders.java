package dev.quotaproxy.proxy.http;

import io.vertx.core.MultiMap;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Copies the end-to-end headers of a message, leaving out what belongs to one connection only
 * (RFC 9110 section 7.6.1): the fixed hop-by-hop set and every header the {@code Connection} field
 * names. Repeated headers stay repeated and in order: several {@code Accept} lines must reach the
 * registry as several lines, or manifest negotiation breaks.
 *
 * <p>Runs twice per proxied request, so it compares names in place, without lower-casing copies or
 * building a set per call.
 */
public final class HopByHopHeaders {
  private HopByHopHeaders() {}

  /**
   * @param skip further lower-case names not to copy, because the caller sets them itself
   */
  public static void copyEndToEnd(MultiMap from, MultiMap to, Set<String> skip) {
    List<String> named = connectionOptions(from);
    for (Map.Entry<String, String> header : from) {
      String name = header.getKey();
      if (!isHopByHop(name) && !containsIgnoringCase(skip, name) && !containsIgnoringCase(named, name)) {
        to.add(name, header.getValue());
      }
    }
  }

  /** The fixed set: connection, proxy-connection, keep-alive, te, trailer, transfer-encoding, upgrade. */
  static boolean isHopByHop(String name) {
    return switch (name.length()) {
      case 2 -> name.equalsIgnoreCase("te");
      case 7 -> name.equalsIgnoreCase("trailer") || name.equalsIgnoreCase("upgrade");
      case 10 -> name.equalsIgnoreCase("connection") || name.equalsIgnoreCase("keep-alive");
      case 16 -> name.equalsIgnoreCase("proxy-connection");
      case 17 -> name.equalsIgnoreCase("transfer-encoding");
      default -> false;
    };
  }

  /** The header names the {@code Connection} fields list (none, usually: then no list is made). */
  private static List<String> connectionOptions(MultiMap headers) {
    if (!headers.contains("connection")) {
      return List.of();
    }
    List<String> named = new ArrayList<>();
    for (String listed : headers.getAll("connection")) {
      for (String token : listed.split(",")) {
        named.add(token.trim());
      }
    }
    return named;
  }

  private static boolean containsIgnoringCase(Collection<String> names, String name) {
    for (String candidate : names) {
      if (candidate.equalsIgnoreCase(name)) {
        return true;
      }
    }
    return false;
  }
}
