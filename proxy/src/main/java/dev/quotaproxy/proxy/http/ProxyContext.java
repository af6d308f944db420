package dev.quotaproxy.proxy.http;

import dev.quotaproxy.config.ProxyConfig;
import dev.quotaproxy.proxy.metrics.RequestMeters;
import dev.quotaproxy.proxy.quota.QuotaRules;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;

/**
 * What every exchange on one event loop shares: the upstream pool and the proxy's own requests on it,
 * the header policy both ways, the quota rules, the settings, the request meters and the access log.
 */
public record ProxyContext(Vertx vertx, HttpClient upstream, UpstreamRegistry registry, ProxyConfig config, ForwardedHeaders forwarded,
    RelayedHeaders relayed, QuotaRules quota, RequestMeters meters, AccessLog accessLog) {

  public ProxyContext(Vertx vertx, HttpClient upstream, ProxyConfig config, QuotaRules quota, RequestMeters meters, AccessLog accessLog) {
    this(vertx, upstream, new UpstreamRegistry(upstream, config.upstream().idleTimeout().toMillis()), config,
        new ForwardedHeaders(config.listen()), new RelayedHeaders(new UpstreamUrlRewriter(config.upstream().origin())), quota, meters,
        accessLog);
  }
}
