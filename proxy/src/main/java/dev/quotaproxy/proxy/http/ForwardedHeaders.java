package dev.quotaproxy.proxy.http;

import dev.quotaproxy.config.ProxyConfig;
import io.vertx.core.MultiMap;
import io.vertx.core.net.HostAndPort;
import java.util.Set;

/**
 * The request side of the header policy: which of the client's headers the registry gets (the
 * end-to-end ones, less those the proxy sets itself), and who the client is and what it addressed.
 * Behind a load balancer the proxy trusts ({@code listen.trust-forwarded-headers}), the balancer's
 * {@code X-Forwarded-*} are believed and passed on; otherwise the proxy's own replace the client's.
 * One per event loop; the per-request methods allocate only the headers they build.
 */
public final class ForwardedHeaders {
  /** Sent with every request the proxy makes upstream, forwarded or its own. */
  static final String VIA = "1.1 quota-proxy";
  private static final Set<String> SET_BY_PROXY = Set.of(
      "host", "expect", "content-length", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "forwarded");
  /** Behind a trusted balancer its X-Forwarded-Host, -Proto and Forwarded pass; X-Forwarded-For is extended. */
  private static final Set<String> SET_BY_PROXY_BEHIND_BALANCER = Set.of("host", "expect", "content-length", "x-forwarded-for");

  private final ProxyConfig.Listen listen;

  public ForwardedHeaders(ProxyConfig.Listen listen) {
    this.listen = listen;
  }

  /**
   * The headers of the forwarded request: the client's end-to-end headers, then {@code X-Forwarded-*} and
   * {@code Via}. Host, Expect and Content-Length are left to the caller, which knows how the body goes.
   *
   * @param authority   the authority the request carried (Host), or null
   * @param peerAddress the address of the client's connection, or null
   */
  MultiMap toUpstream(MultiMap client, HostAndPort authority, String peerAddress) {
    MultiMap headers = MultiMap.caseInsensitiveMultiMap();
    HopByHopHeaders.copyEndToEnd(client, headers, listen.trustForwardedHeaders() ? SET_BY_PROXY_BEHIND_BALANCER : SET_BY_PROXY);
    // The registry builds its Location and Link URLs from these, so they point at the proxy.
    HostAndPort clientHost = clientAuthority(client, authority);
    if (!headers.contains("x-forwarded-host") && clientHost != null) {
      headers.set("X-Forwarded-Host", clientHost.toString());
    }
    if (!headers.contains("x-forwarded-proto")) {
      headers.set("X-Forwarded-Proto", listen.scheme());
    }
    String forwardedFor = listen.trustForwardedHeaders() ? client.get("x-forwarded-for") : null;
    if (peerAddress != null) {
      headers.set("X-Forwarded-For", forwardedFor == null ? peerAddress : forwardedFor + ", " + peerAddress);
    }
    headers.add("Via", VIA);
    return headers;
  }

  /**
   * The client's address: the peer's, or, behind a load balancer the proxy trusts, the address that
   * balancer saw (the last of {@code X-Forwarded-For}: earlier entries are the client's own word).
   *
   * @param peerAddress the address of the client's connection, the answer when no trusted balancer gives one
   */
  String clientAddress(MultiMap client, String peerAddress) {
    if (listen.trustForwardedHeaders()) {
      String forwarded = client.get("x-forwarded-for");
      if (forwarded != null && !forwarded.isBlank()) {
        String[] hops = forwarded.split(",");
        return hops[hops.length - 1].trim();
      }
    }
    return peerAddress;
  }

  /** Scheme, host and port the client addressed, for URLs that must point back at the proxy. */
  String clientOrigin(MultiMap client, HostAndPort authority) {
    String scheme = listen.scheme();
    if (listen.trustForwardedHeaders() && client.get("x-forwarded-proto") != null) {
      scheme = client.get("x-forwarded-proto").split(",")[0].trim();
    }
    HostAndPort clientHost = clientAuthority(client, authority);
    String host = clientHost != null ? clientHost.toString() : listen.host() + ":" + listen.port();
    return scheme + "://" + host;
  }

  /** The host and port the client addressed, as a trusted load balancer or the client itself says. */
  private HostAndPort clientAuthority(MultiMap client, HostAndPort authority) {
    if (listen.trustForwardedHeaders()) {
      String forwarded = client.get("x-forwarded-host");
      if (forwarded != null) {
        return HostAndPort.parseAuthority(forwarded.split(",")[0].trim(), -1);
      }
    }
    return authority;
  }
}
