package dev.quotaproxy.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.quotaproxy.proxy.quota.ExchangeQuota.UpstreamAnswer;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The proxy's own requests, against a Vert.x server standing in for the registry. They are made on an
 * event loop, as the exchange makes them: the answer's handlers must be set before its end is read.
 */
class UpstreamRegistryTest {
  /** Long enough for a cold JVM's first connection, short enough for a test of a registry that stalls. */
  private static final long IDLE_TIMEOUT_MILLIS = 2_000;
  private Vertx vertx;
  private Context eventLoop;
  private UpstreamRegistry registry;
  private volatile Consumer<HttpServerRequest> answer = request -> request.response().end();
  private final BlockingQueue<Seen> seen = new LinkedBlockingQueue<>();

  private record Seen(HttpMethod method, String uri, MultiMap headers) {}

  @BeforeEach
  void start() throws Exception {
    vertx = Vertx.vertx();
    HttpServer server = vertx.createHttpServer().requestHandler(request -> {
      seen.add(new Seen(request.method(), request.uri(), MultiMap.caseInsensitiveMultiMap().addAll(request.headers())));
      answer.accept(request);
    });
    int port = server.listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS).actualPort();
    registry = new UpstreamRegistry(upstream(port), IDLE_TIMEOUT_MILLIS);
    eventLoop = vertx.getOrCreateContext();
  }

  /** Starts {@code question} on the event loop; its answer, once there. */
  private <T> Future<T> onEventLoop(Supplier<Future<T>> question) {
    Promise<T> answered = Promise.promise();
    eventLoop.runOnContext(v -> question.get().onComplete(answered));
    return answered.future();
  }

  private HttpClient upstream(int port) {
    return vertx.createHttpClient(new HttpClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(port));
  }

  @AfterEach
  void stop() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  @Test
  void asksWithTheClientsCredentialsAndReturnsTheWholeAnswer() throws Exception {
    answer = request -> request.response().setStatusCode(404)
        .putHeader("Content-Type", "application/json")
        .putHeader("Docker-Distribution-API-Version", "registry/2.0")
        .end("{\"errors\":[{\"code\":\"BLOB_UNKNOWN\"}]}");

    UpstreamAnswer got = onEventLoop(() -> registry.ask(HttpMethod.GET, "/v2/acme/app/blobs/uploads/u?_state=s", "Bearer secret"))
        .await(5, TimeUnit.SECONDS);

    assertThat(got.status()).isEqualTo(404);
    assertThat(got.header("Docker-Distribution-API-Version")).isEqualTo("registry/2.0");
    assertThat(got.body().toString()).isEqualTo("{\"errors\":[{\"code\":\"BLOB_UNKNOWN\"}]}");
    Seen request = seen.poll(5, TimeUnit.SECONDS);
    assertThat(request.method()).isEqualTo(HttpMethod.GET);
    assertThat(request.uri()).isEqualTo("/v2/acme/app/blobs/uploads/u?_state=s");
    assertThat(request.headers().get("Authorization")).isEqualTo("Bearer secret");
    assertThat(request.headers().get("Via")).isEqualTo("1.1 quota-proxy");
  }

  @Test
  void anAnonymousClientIsAskedForAnonymously() throws Exception {
    answer = request -> request.response().putHeader("Content-Length", "2048").end();

    UpstreamAnswer got = onEventLoop(() -> registry.ask(HttpMethod.HEAD, "/v2/acme/app/blobs/sha256:1", null)).await(5, TimeUnit.SECONDS);

    assertThat(got.status()).isEqualTo(200);
    assertThat(got.header("Content-Length")).isEqualTo("2048");
    Seen request = seen.poll(5, TimeUnit.SECONDS);
    assertThat(request.method()).isEqualTo(HttpMethod.HEAD);
    assertThat(request.headers().contains("Authorization")).isFalse();
  }

  @Test
  void aLargeAnswerIsReadToItsEndButNotKept() throws Exception {
    Buffer large = Buffer.buffer(new byte[1024 * 1024]);
    answer = request -> request.response().end(large);

    UpstreamAnswer got = onEventLoop(() -> registry.ask(HttpMethod.GET, "/v2/acme/app/tags/list", null)).await(5, TimeUnit.SECONDS);

    assertThat(got.status()).isEqualTo(200);
    assertThat(got.body().length()).isLessThanOrEqualTo(UpstreamRegistry.OWN_ANSWER_BODY_BYTES);
  }

  @Test
  void aRegistryThatCannotBeReachedFailsTheQuestion() throws Exception {
    HttpServer gone = vertx.createHttpServer().requestHandler(request -> {});
    int port = gone.listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS).actualPort();
    gone.close().await(10, TimeUnit.SECONDS);

    UpstreamRegistry unreachable = new UpstreamRegistry(upstream(port), IDLE_TIMEOUT_MILLIS);
    Future<UpstreamAnswer> asked = onEventLoop(() -> unreachable.ask(HttpMethod.HEAD, "/v2/acme/app/blobs/sha256:1", null));

    assertThatThrownBy(() -> asked.await(5, TimeUnit.SECONDS)).hasMessageContaining("Connection refused");
    assertThat(asked.failed()).isTrue();
  }

  @Test
  void aRegistryThatStopsAnsweringFailsTheQuestionWithinTheIdleTimeout() throws Exception {
    answer = request -> {};

    Future<UpstreamAnswer> asked = onEventLoop(() -> registry.ask(HttpMethod.GET, "/v2/acme/app/tags/list", null));

    assertThatThrownBy(() -> asked.await(5, TimeUnit.SECONDS)).hasMessageContaining("timeout period of " + IDLE_TIMEOUT_MILLIS + "ms");
    assertThat(asked.failed()).as("failed by the idle timeout, not still waiting").isTrue();
  }

  @Test
  void aClientTheRegistryRefusesAReadGetsThatRefusal() throws Exception {
    answer = request -> request.response().setStatusCode(401)
        .putHeader("WWW-Authenticate", "Bearer realm=\"https://auth/token\"")
        .end("{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}");

    UpstreamAnswer refusal = onEventLoop(() -> registry.readRefusal("acme/app", "Basic bad")).await(5, TimeUnit.SECONDS);

    assertThat(refusal.status()).isEqualTo(401);
    assertThat(refusal.header("WWW-Authenticate")).isEqualTo("Bearer realm=\"https://auth/token\"");
    Seen request = seen.poll(5, TimeUnit.SECONDS);
    assertThat(request.uri()).isEqualTo("/v2/acme/app/tags/list");
    assertThat(request.headers().get("Authorization")).isEqualTo("Basic bad");
  }

  @Test
  void aForbiddenReadIsARefusalToo() throws Exception {
    answer = request -> request.response().setStatusCode(403).end();

    assertThat(onEventLoop(() -> registry.readRefusal("acme/app", "Bearer t")).await(5, TimeUnit.SECONDS).status()).isEqualTo(403);
  }

  @Test
  void aClientTheRegistryServesOrThatCannotBeAskedAboutHasNoRefusal() throws Exception {
    answer = request -> request.response().setStatusCode(200).end("{\"tags\":[]}");
    assertThat(onEventLoop(() -> registry.readRefusal("acme/app", "Bearer t")).await(5, TimeUnit.SECONDS)).isNull();

    answer = request -> request.response().setStatusCode(404).end();
    assertThat(onEventLoop(() -> registry.readRefusal("acme/app", "Bearer t")).await(5, TimeUnit.SECONDS)).isNull();

    answer = request -> request.connection().close();
    assertThat(onEventLoop(() -> registry.readRefusal("acme/app", "Bearer t")).await(5, TimeUnit.SECONDS)).isNull();
  }
}
