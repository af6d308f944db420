package dev.quotaproxy.proxy.http;

import io.vertx.core.MultiMap;
import java.util.HashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Copies the end-to-end headers of a message, leaving out what belongs to one connection only
 * (RFC 9110 section 7.6.1): the fixed hop-by-hop set and every header the {@code Connection} field
 * names. Repeated headers stay repeated and in order: several {@code Accept} lines must reach the
 * registry as several lines, or manifest negotiation breaks.
 */
public final class HopByHopHeaders {
  private static final Set<String> HOP_BY_HOP = Set.of(
      "connection", "proxy-connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade");

  private HopByHopHeaders() {}

  /**
   * @param skip further lower-case names not to copy, because the caller sets them itself
   */
  public static void copyEndToEnd(MultiMap from, MultiMap to, Set<String> skip) {
    Set<String> dropped = new HashSet<>(HOP_BY_HOP);
    dropped.addAll(skip);
    for (String listed : from.getAll("connection")) {
      for (String token : listed.split(",")) {
        dropped.add(token.trim().toLowerCase(Locale.ROOT));
      }
    }
    for (Map.Entry<String, String> header : from) {
      if (!dropped.contains(header.getKey().toLowerCase(Locale.ROOT))) {
        to.add(header.getKey(), header.getValue());
      }
    }
  }
}
