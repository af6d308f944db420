package dev.quotaproxy.proxy;

import dev.quotaproxy.config.ProxyConfig;
import dev.quotaproxy.proxy.http.AccessLog;
import dev.quotaproxy.proxy.http.ProxyContext;
import dev.quotaproxy.proxy.http.ProxyExchange;
import dev.quotaproxy.proxy.http.splice.SpliceGate;
import dev.quotaproxy.proxy.metrics.ProxyMetrics;
import dev.quotaproxy.proxy.quota.QuotaRules;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One listener and one upstream pool on one event loop. Deployed once per event loop; the listeners
 * share the port, so the kernel spreads connections over them.
 */
public final class ProxyVerticle extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(ProxyVerticle.class);
  /** Registry bearer tokens and long upload URLs outgrow Netty's 8 KiB default head limit. */
  private static final int MAX_HEADER_BYTES = 64 * 1024;
  private static final int MAX_INITIAL_LINE_BYTES = 16 * 1024;
  /**
   * Largest body piece the HTTP decoder hands over at once. Netty's 8 KiB default cuts each socket read
   * into many small buffers, each a separate copy, event and write; measured pulls ran at half speed.
   */
  private static final int MAX_BODY_CHUNK_BYTES = 256 * 1024;
  /** Pooled connections idle longer than this are closed by us before the registry's own idle cut-off races a request. */
  private static final int UPSTREAM_KEEP_ALIVE_SECONDS = 30;

  private final ProxyConfig config;
  private final Function<Vertx, QuotaRules> quotas;
  private HttpServer server;
  private ProxyContext proxyContext;

  /** @param quotas makes this event loop's quota rules (each event loop has its own store connections) */
  public ProxyVerticle(ProxyConfig config, Function<Vertx, QuotaRules> quotas) {
    this.config = config;
    this.quotas = quotas;
  }

  @Override
  public Future<?> start() {
    HttpClient upstream = vertx.httpClientBuilder()
        .with(upstreamOptions(config.upstream()))
        .with(new PoolOptions()
            .setHttp1MaxSize(config.upstream().poolSize())
            .setMaxWaitQueueSize(config.upstream().maxWaiting()))
        // Resets and closes are handled per exchange; without a handler Vert.x logs each one as an error.
        .withConnectHandler(connection -> {
          connection.exceptionHandler(e -> LOG.debug("upstream connection: {}", e.toString()));
          if (config.zeroCopy()) {
            SpliceGate.install(connection);
          }
        })
        .build();
    proxyContext = new ProxyContext(vertx, upstream, config, quotas.apply(vertx), ProxyMetrics.of(vertx).requests(),
        AccessLog.on(this.context, config.accessLog()));
    server = vertx.createHttpServer(serverOptions(config.listen()))
        .connectionHandler(connection -> connection.exceptionHandler(e -> LOG.debug("client connection: {}", e.toString())))
        .requestHandler(request -> ProxyExchange.handle(proxyContext, request));
    return server.listen();
  }

  /** Stops taking requests, then writes what the quota rules held back (traffic counters). */
  @Override
  public Future<?> stop() {
    Future<Void> closed = server == null ? Future.succeededFuture() : server.close();
    return closed.compose(v -> proxyContext == null ? Future.succeededFuture() : proxyContext.quota().close());
  }

  /** The port actually bound, for tests that listen on port 0. */
  public int actualPort() {
    return server.actualPort();
  }

  static HttpServerOptions serverOptions(ProxyConfig.Listen listen) {
    HttpServerOptions options = new HttpServerOptions()
        .setHost(listen.host())
        .setPort(listen.port())
        // 100-continue is answered by each exchange once it has decided to take the body.
        .setHandle100ContinueAutomatically(false)
        // HTTP/1.1 only: an h2c upgrade would change how 100-continue and resets behave.
        .setHttp2ClearTextEnabled(false)
        .setCompressionSupported(false)
        .setDecompressionSupported(false)
        .setTcpNoDelay(true)
        .setMaxHeaderSize(MAX_HEADER_BYTES)
        .setMaxInitialLineLength(MAX_INITIAL_LINE_BYTES)
        .setMaxChunkSize(MAX_BODY_CHUNK_BYTES)
        .setIdleTimeout((int) listen.idleTimeout().toSeconds())
        .setIdleTimeoutUnit(TimeUnit.SECONDS);
    listen.tls().ifPresent(tls -> options
        .setSsl(true)
        .setKeyCertOptions(new PemKeyCertOptions()
            .setCertPath(tls.certificateChain().toString())
            .setKeyPath(tls.privateKey().toString())));
    return options;
  }

  static HttpClientOptions upstreamOptions(ProxyConfig.Upstream upstream) {
    HttpClientOptions options = new HttpClientOptions()
        .setName("upstream")
        .setDefaultHost(upstream.origin().getHost())
        .setDefaultPort(upstream.port())
        .setSsl(upstream.secure())
        .setVerifyHost(true)
        .setConnectTimeout((int) upstream.connectTimeout().toMillis())
        .setKeepAlive(true)
        .setKeepAliveTimeout(UPSTREAM_KEEP_ALIVE_SECONDS)
        .setPipelining(false)
        .setTcpNoDelay(true)
        .setDecompressionSupported(false)
        .setMaxHeaderSize(MAX_HEADER_BYTES)
        .setMaxInitialLineLength(MAX_INITIAL_LINE_BYTES)
        .setMaxChunkSize(MAX_BODY_CHUNK_BYTES);
    upstream.caCertificates().ifPresent(ca -> options.setTrustOptions(new PemTrustOptions().addCertPath(ca.toString())));
    return options;
  }
}
