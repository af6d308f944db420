package dev.quotaproxy.proxy.http.splice;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.RequestOptions;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A relay as the exchange uses it, on native epoll as the proxy runs: a registry that serves bodies
 * of a given size, and between it and the test's client a server that relays them, one event loop
 * for both of its connections. {@code /gated/<size>} goes through an upstream pool with gates on its
 * connections, {@code /ungated/<size>} through one without.
 */
class SpliceRelayTest {
  private static final int MiB = 1024 * 1024;

  static Vertx vertx;
  static HttpClient client;
  static int relayPort;
  /** What the relay saw of the last request: whether it was armed and held, bytes spliced, pieces moved. */
  static volatile boolean armed;
  static volatile boolean held;
  static final AtomicLong spliced = new AtomicLong();
  static final AtomicLong moved = new AtomicLong();

  @BeforeAll
  static void start() throws Exception {
    vertx = Vertx.vertx(new VertxOptions().setPreferNativeTransport(true));
    assertThat(vertx.isNativeTransportEnabled()).as("Linux epoll, which splice needs, is in use").isTrue();
    HttpServer registry = vertx.createHttpServer().requestHandler(SpliceRelayTest::serveBody);
    int registryPort = registry.listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS).actualPort();
    RelayVerticle relay = new RelayVerticle(registryPort);
    vertx.deployVerticle(relay).await(10, TimeUnit.SECONDS);
    relayPort = relay.port;
    client = vertx.createHttpClient();
  }

  @AfterAll
  static void stop() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  @BeforeEach
  void reset() {
    armed = false;
    held = false;
    spliced.set(0);
    moved.set(0);
  }

  /** The body of {@code /<anything>/<size>}: bytes that differ from one offset to the next. */
  private static Buffer body(int size) {
    byte[] bytes = new byte[size];
    new SplittableRandom(size).nextBytes(bytes);
    return Buffer.buffer(bytes);
  }

  private static void serveBody(HttpServerRequest request) {
    int size = Integer.parseInt(request.path().substring(request.path().lastIndexOf('/') + 1));
    request.response().putHeader("Content-Type", "application/octet-stream").end(body(size));
  }

  /** One event loop with the relay's server and both its upstream pools, as the proxy's verticle has. */
  static final class RelayVerticle extends VerticleBase {
    private final int registryPort;
    private HttpClient gated;
    private HttpClient ungated;
    volatile int port;

    RelayVerticle(int registryPort) {
      this.registryPort = registryPort;
    }

    @Override
    public Future<?> start() {
      HttpClientOptions options = new HttpClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(registryPort);
      gated = vertx.httpClientBuilder().with(options).withConnectHandler(SpliceGate::install).build();
      ungated = vertx.httpClientBuilder().with(options).build();
      return vertx.createHttpServer().requestHandler(this::relay).listen(0, "127.0.0.1").onSuccess(server -> port = server.actualPort());
    }

    private void relay(HttpServerRequest request) {
      HttpClient upstream = request.path().startsWith("/gated/") ? gated : ungated;
      upstream.request(new RequestOptions().setMethod(HttpMethod.GET).setURI(request.uri())).onSuccess(upstreamRequest -> {
        SpliceRelay splice = SpliceRelay.arm(upstreamRequest.connection(), request.connection());
        armed = splice != null;
        upstreamRequest.send().onSuccess(answer -> answered(request, answer, splice));
      });
    }

    private void answered(HttpServerRequest request, HttpClientResponse answer, SpliceRelay splice) {
      request.response().setStatusCode(answer.statusCode()).putHeader("Content-Length", answer.getHeader("Content-Length"));
      held = splice != null && splice.holding();
      if (!held) {
        answer.pipeTo(request.response());
        return;
      }
      splice.relay(request.response(), () -> false, moved::incrementAndGet).onComplete(done -> {
        spliced.set(splice.splicedBytes());
        if (done.succeeded()) {
          request.response().end();
        } else {
          request.connection().close();
        }
        // The upstream connection's decoder never saw the body end: it must not carry another exchange.
        answer.request().connection().close();
      });
    }
  }

  private Buffer fetch(String path) throws Exception {
    return client.request(HttpMethod.GET, relayPort, "127.0.0.1", path)
        .compose(HttpClientRequest::send)
        .compose(response -> {
          assertThat(response.statusCode()).isEqualTo(200);
          return response.body();
        })
        .await(20, TimeUnit.SECONDS);
  }

  @Test
  void aLargeBodyArrivesWholeWithMostOfItMovedByTheKernel() throws Exception {
    int size = 3 * MiB + 17;

    Buffer got = fetch("/gated/" + size);

    assertThat(got).isEqualTo(body(size));
    assertThat(armed).isTrue();
    assertThat(held).isTrue();
    // What the decoder read with the head went through Vert.x; only the rest is counted as spliced.
    assertThat(spliced.get()).isBetween((long) 2 * MiB, (long) size);
    assertThat(moved.get()).as("the watchdog told of each piece and of the held bytes").isGreaterThanOrEqualTo(3);
  }

  @Test
  void aBodyUnderTheSpliceRuleIsLeftToTheDecoder() throws Exception {
    int size = MiB - 1;

    Buffer got = fetch("/gated/" + size);

    assertThat(got).isEqualTo(body(size));
    assertThat(armed).isTrue();
    assertThat(held).isFalse();
    assertThat(spliced.get()).isZero();
  }

  @Test
  void anUpstreamConnectionWithoutAGateIsNeverArmed() throws Exception {
    int size = 2 * MiB;

    Buffer got = fetch("/ungated/" + size);

    assertThat(got).isEqualTo(body(size));
    assertThat(armed).isFalse();
  }
}
