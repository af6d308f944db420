package dev.quotaproxy.proxy;

import dev.quotaproxy.config.ConfigurationException;
import dev.quotaproxy.config.ProxyConfig;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.ThreadingModel;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** {@code java -jar quota-proxy.jar --upstream http://127.0.0.1:5000 --port 8080}. */
public final class QuotaProxyMain {
  private static final Logger LOG = LoggerFactory.getLogger(QuotaProxyMain.class);

  private QuotaProxyMain() {}

  public static void main(String[] args) {
    List<String> arguments = Arrays.asList(args);
    if (arguments.contains("--help") || arguments.contains("-h")) {
      System.out.println("Usage: java -jar quota-proxy.jar --upstream URL [--port PORT] [settings...]\n");
      System.out.println(ProxyConfig.loader().help());
      return;
    }
    ProxyConfig config;
    try {
      config = ProxyConfig.load(arguments, System.getenv());
    } catch (ConfigurationException e) {
      System.err.println("quota-proxy: " + e.getMessage());
      System.err.println("Run with --help to see every setting.");
      System.exit(2);
      return;
    }
    Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(config.eventLoops()).setPreferNativeTransport(true));
    start(vertx, config).onComplete(started -> {
      if (started.failed()) {
        LOG.error("quota-proxy could not start: {}", started.cause().getMessage());
        vertx.close().onComplete(v -> System.exit(1));
        return;
      }
      LOG.info("quota-proxy listening on {}://{}:{}, forwarding to {} with {} event loops ({} transport)",
          config.listen().scheme(), config.listen().host(), config.listen().port(), config.upstream().origin(), config.eventLoops(),
          vertx.isNativeTransportEnabled() ? "native epoll" : "NIO");
    });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
      } catch (Exception e) {
        // Exiting anyway; in-flight transfers are cut and their clients retry.
      }
    }, "quota-proxy-shutdown"));
  }

  /** Deploys one proxy verticle per configured event loop. */
  public static Future<String> start(Vertx vertx, ProxyConfig config) {
    return vertx.deployVerticle(() -> new ProxyVerticle(config, v -> dev.quotaproxy.proxy.quota.QuotaRules.NONE),
        new DeploymentOptions().setInstances(config.eventLoops()).setThreadingModel(ThreadingModel.EVENT_LOOP));
  }
}
