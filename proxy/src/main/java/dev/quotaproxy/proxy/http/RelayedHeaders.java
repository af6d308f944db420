package dev.quotaproxy.proxy.http;

import dev.quotaproxy.proxy.route.OciError;
import io.vertx.core.MultiMap;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The answer side of the header policy: what of the registry's answer heads reaches the client (the
 * end-to-end headers, its URLs pointed back at the proxy, the quota's warnings added), and the heads
 * of the answers the proxy gives itself. One per event loop.
 */
public final class RelayedHeaders {
  /** What of the registry's answer to the proxy's own request reaches the client when it becomes the answer. */
  private static final List<String> RELAYED_FROM_OWN_REQUESTS = List.of(
      "Content-Type", "WWW-Authenticate", "Docker-Distribution-API-Version", "Retry-After");

  private final UpstreamUrlRewriter rewriter;

  public RelayedHeaders(UpstreamUrlRewriter rewriter) {
    this.rewriter = rewriter;
  }

  /**
   * Copies the registry's end-to-end headers to the client's answer, with the URLs in {@code Location},
   * {@code Content-Location} and {@code Link} that name the registry pointed at {@code clientOrigin}
   * instead, then adds each warning as a {@code Warning}.
   */
  void toClient(MultiMap upstream, MultiMap client, String clientOrigin, List<String> warnings) {
    HopByHopHeaders.copyEndToEnd(upstream, client, Set.of());
    rewrite(client, "Location", clientOrigin, false);
    rewrite(client, "Content-Location", clientOrigin, false);
    rewrite(client, "Link", clientOrigin, true);
    for (int i = 0; i < warnings.size(); i++) {
      client.add("Warning", warnings.get(i));
    }
  }

  private void rewrite(MultiMap headers, String name, String clientOrigin, boolean link) {
    if (!headers.contains(name)) {
      return;
    }
    List<String> values = headers.getAll(name);
    List<String> rewritten = new ArrayList<>(values.size());
    for (String value : values) {
      rewritten.add(link ? rewriter.rewriteLink(value, clientOrigin) : rewriter.rewriteUrl(value, clientOrigin));
    }
    headers.set(name, rewritten);
  }

  /**
   * Whether the relayed answer must go to the client chunked: it has a body (not an answer to HEAD, nor
   * a 204 or 304) and the registry gave no length for it.
   *
   * @param headers the answer's headers as relayed
   */
  static boolean chunked(HttpMethod requestMethod, int status, MultiMap headers) {
    boolean bodiless = requestMethod == HttpMethod.HEAD || status == 204 || status == 304;
    return !bodiless && !headers.contains(HttpHeaders.CONTENT_LENGTH);
  }

  /** The head of the proxy's own error answer: JSON, and when to retry if the error says. */
  static MultiMap ofError(OciError error) {
    MultiMap headers = MultiMap.caseInsensitiveMultiMap().add(HttpHeaders.CONTENT_TYPE, "application/json; charset=utf-8");
    if (error.retryAfterSeconds() > 0) {
      headers.add(HttpHeaders.RETRY_AFTER, Long.toString(error.retryAfterSeconds()));
    }
    return headers;
  }

  /** The head of an answer the registry gave to the proxy's own request, as the client gets it when it becomes the answer. */
  static MultiMap ofOwnRequest(MultiMap answer) {
    MultiMap headers = MultiMap.caseInsensitiveMultiMap();
    for (String name : RELAYED_FROM_OWN_REQUESTS) {
      for (String value : answer.getAll(name)) {
        headers.add(name, value);
      }
    }
    return headers;
  }
}
