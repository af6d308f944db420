package dev.quotaproxy.proxy.http;

import dev.quotaproxy.config.ProxyConfig;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;

/** What every exchange on one event loop shares: the upstream pool and the settings. */
public record ProxyContext(Vertx vertx, HttpClient upstream, ProxyConfig config, UpstreamUrlRewriter rewriter) {

  public ProxyContext(Vertx vertx, HttpClient upstream, ProxyConfig config) {
    this(vertx, upstream, config, new UpstreamUrlRewriter(config.upstream().origin()));
  }
}
