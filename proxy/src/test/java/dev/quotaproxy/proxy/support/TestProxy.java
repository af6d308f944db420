package dev.quotaproxy.proxy.support;

import dev.quotaproxy.config.ProxyConfig;
import dev.quotaproxy.proxy.ProxyVerticle;
import dev.quotaproxy.proxy.quota.QuotaRules;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** The proxy on one event loop and a free loopback port, configured with the flags a user would give. */
public final class TestProxy {
  private final int port;

  private TestProxy(int port) {
    this.port = port;
  }

  public static TestProxy start(Vertx vertx, String upstream, String... flags) {
    return start(vertx, upstream, QuotaRules.NONE, flags);
  }

  /** The proxy with the given quota rules (a test's own, to watch when the proxy calls them). */
  public static TestProxy start(Vertx vertx, String upstream, QuotaRules rules, String... flags) {
    List<String> args = new ArrayList<>(List.of("--upstream", upstream, "--host", "127.0.0.1", "--port", "0", "--proxy.event-loops", "1"));
    args.addAll(List.of(flags));
    ProxyVerticle verticle = new ProxyVerticle(ProxyConfig.load(args, Map.of()), v -> rules);
    try {
      vertx.deployVerticle(verticle).await(20, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("proxy did not start", e);
    }
    return new TestProxy(verticle.actualPort());
  }

  public int port() {
    return port;
  }

  public String origin() {
    return "http://127.0.0.1:" + port;
  }
}
