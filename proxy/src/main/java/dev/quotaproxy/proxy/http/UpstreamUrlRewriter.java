package dev.quotaproxy.proxy.http;

import java.net.URI;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Points absolute URLs that name the upstream registry back at the proxy, as the client reached it.
 * The registry is told the client's host through {@code X-Forwarded-Host}, so most of its URLs are
 * right already; this catches registries that ignore the header. URLs elsewhere (a redirect to
 * object storage, a token realm) are left alone.
 */
public final class UpstreamUrlRewriter {
  private static final Pattern LINK_TARGET = Pattern.compile("<([^>]*)>");

  /** Spellings of the upstream origin, lower case: with and without its default port. */
  private final List<String> upstreamOrigins;

  public UpstreamUrlRewriter(URI upstream) {
    String scheme = upstream.getScheme().toLowerCase(Locale.ROOT);
    String host = upstream.getHost().toLowerCase(Locale.ROOT);
    int defaultPort = scheme.equals("https") ? 443 : 80;
    int port = upstream.getPort() == -1 ? defaultPort : upstream.getPort();
    this.upstreamOrigins = port == defaultPort
        ? List.of(scheme + "://" + host + ":" + port, scheme + "://" + host)
        : List.of(scheme + "://" + host + ":" + port);
  }

  /** A {@code Location} or {@code Content-Location} value. */
  public String rewriteUrl(String url, String clientOrigin) {
    String lower = url.toLowerCase(Locale.ROOT);
    for (String origin : upstreamOrigins) {
      if (lower.startsWith(origin) && (lower.length() == origin.length() || "/?#".indexOf(lower.charAt(origin.length())) >= 0)) {
        return clientOrigin + url.substring(origin.length());
      }
    }
    return url;
  }

  /** A {@code Link} value: every {@code <url>} in it, e.g. {@code <http://r/v2/_catalog?last=x>; rel="next"}. */
  public String rewriteLink(String link, String clientOrigin) {
    Matcher m = LINK_TARGET.matcher(link);
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      m.appendReplacement(out, Matcher.quoteReplacement("<" + rewriteUrl(m.group(1), clientOrigin) + ">"));
    }
    m.appendTail(out);
    return out.toString();
  }
}
