package dev.quotaproxy.proxy.http;

import dev.quotaproxy.config.ProxyConfig;
import dev.quotaproxy.proxy.quota.QuotaRules;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;

/** What every exchange on one event loop shares: the upstream pool, the quota rules and the settings. */
public record ProxyContext(Vertx vertx, HttpClient upstream, ProxyConfig config, UpstreamUrlRewriter rewriter, QuotaRules quota) {

  public ProxyContext(Vertx vertx, HttpClient upstream, ProxyConfig config, QuotaRules quota) {
    this(vertx, upstream, config, new UpstreamUrlRewriter(config.upstream().origin()), quota);
  }
}
