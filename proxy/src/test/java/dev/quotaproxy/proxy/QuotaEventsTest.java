package dev.quotaproxy.proxy;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static dev.quotaproxy.proxy.support.OciTestClient.randomBytes;
import static dev.quotaproxy.testing.Eventually.eventually;
import static org.assertj.core.api.Assertions.assertThat;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.quotaproxy.config.ProxyConfig;
import dev.quotaproxy.ledger.EmbeddedPostgresServer;
import dev.quotaproxy.ledger.events.WebhookSignature;
import dev.quotaproxy.ledger.support.RealRegistry;
import dev.quotaproxy.metering.support.TestRedis;
import dev.quotaproxy.proxy.support.OciTestClient;
import dev.quotaproxy.proxy.metrics.ProxyMetrics;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Quota events end to end: the production wiring ({@link QuotaProxyMain#start}) in front of a real registry, with
 * a real Redis and a real Postgres, sending to a real receiver (WireMock). Pushes and pulls through the proxy
 * become signed webhooks; nothing on the request path waits for them.
 */
class QuotaEventsTest {
  private static final int KiB = 1024;
  private static final String ADMIN = "ops-token-0123456789";
  private static final String VIEWER = "hooked-view-token-0123456789";
  private static final String SECRET = "hooks-secret-0123456789";
  private static final String PATH = "/hooks";

  static RealRegistry registry;
  static TestRedis redis;
  static EmbeddedPostgresServer postgres;
  static WireMockServer receiver;
  static Vertx vertx;
  static Backends backends;
  static OciTestClient client;
  static String admin;
  static final HttpClient http = HttpClient.newHttpClient();

  @BeforeAll
  static void start() throws Exception {
    registry = RealRegistry.start();
    redis = TestRedis.start();
    postgres = EmbeddedPostgresServer.start();
    receiver = new WireMockServer(options().dynamicPort());
    receiver.start();
    receiver.stubFor(post(urlEqualTo(PATH)).willReturn(aResponse().withStatus(200)));
    Path config = Files.writeString(Files.createTempFile("quota-events", ".yaml"), """
        quota:
          system:
            refresh: 100ms
          scopes:
            hooked: {storage-hard: 300KiB, storage-soft: 100KiB}
            eg: {egress: 100KiB, egress-window: 1d}
            counted: {repositories-hard: 3, repositories-soft: 2}
        admin:
          tokens:
            ops: {token: "%s", role: admin}
            hooked-view: {token: "%s", role: viewer, scopes: hooked}
        events:
          poll-interval: 100ms
          retry-first: 100ms
          webhooks:
            all: {url: "http://127.0.0.1:%d%s", secret: "%s"}
        """.formatted(ADMIN, VIEWER, receiver.port(), PATH, SECRET));
    int port = freePort();
    int adminPort = freePort();
    ProxyConfig proxyConfig = ProxyConfig.load(List.of("--config", config.toString(), "--upstream", registry.url(),
        "--host", "127.0.0.1", "--port", Integer.toString(port), "--proxy.event-loops", "1", "--redis.url", redis.url(),
        "--postgres.url", "postgresql://postgres:postgres@127.0.0.1:" + postgres.port() + "/postgres",
        "--admin.host", "127.0.0.1", "--admin.port", Integer.toString(adminPort)), Map.of());
    backends = Backends.start(proxyConfig);
    // With the proxy's metrics, as the process has them: the state gauges are sampled only there.
    vertx = new ProxyMetrics().vertx(new VertxOptions());
    QuotaProxyMain.start(vertx, proxyConfig, backends).await(60, TimeUnit.SECONDS);
    client = new OciTestClient("http://127.0.0.1:" + port);
    admin = "http://127.0.0.1:" + adminPort;
  }

  @AfterAll
  static void stop() throws Exception {
    if (vertx != null) {
      vertx.close().await(20, TimeUnit.SECONDS);
      backends.close();
    }
    for (AutoCloseable closeable : new AutoCloseable[] {postgres, redis, registry}) {
      if (closeable != null) {
        closeable.close();
      }
    }
    if (receiver != null) {
      receiver.stop();
    }
  }

  /** The events the receiver got of a type about a scope, each checked for its signature. */
  private static List<JsonObject> received(String type, String scope) {
    return receiver.findAll(com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor(urlEqualTo(PATH))).stream()
        .filter(request -> type.equals(request.getHeader("X-Quota-Event-Type")))
        .map(QuotaEventsTest::verified)
        .filter(event -> scope.equals(event.getString("scope")))
        .toList();
  }

  private static JsonObject verified(LoggedRequest request) {
    long timestamp = Long.parseLong(request.getHeader("X-Quota-Timestamp"));
    assertThat(WebhookSignature.verify(SECRET, timestamp, request.getBody(), request.getHeader("X-Quota-Signature")))
        .as("signature of %s", request.getBodyAsString()).isTrue();
    return new JsonObject(new String(request.getBody(), StandardCharsets.UTF_8));
  }

  @Test
  void pushesOverTheSoftAndHardLimitsAreOneWarningAndOneExceeded() throws Exception {
    assertThat(client.pushBlob("hooked/app", randomBytes(60 * KiB)).status()).isEqualTo(201);
    assertThat(client.pushBlob("hooked/app", randomBytes(60 * KiB)).status()).as("crosses the 100 KiB soft limit").isEqualTo(201);
    assertThat(client.pushBlob("hooked/app", randomBytes(60 * KiB)).status()).as("stays above it").isEqualTo(201);
    OciTestClient.Reply refused = client.pushBlob("hooked/app", randomBytes(200 * KiB));
    assertThat(refused.status()).isEqualTo(403);

    eventually(Duration.ofSeconds(20), () -> assertThat(received("QUOTA_EXCEEDED", "hooked")).hasSize(1));
    JsonObject exceeded = received("QUOTA_EXCEEDED", "hooked").get(0).getJsonObject("data");
    assertThat(exceeded.getString("repository")).isEqualTo("hooked/app");
    assertThat(exceeded.getLong("limit")).isEqualTo(300 * KiB);
    assertThat(exceeded.getLong("requested")).isEqualTo(200 * KiB);
    assertThat(exceeded.getLong("usage")).isEqualTo(180 * KiB);
    List<JsonObject> warnings = received("QUOTA_WARNING", "hooked");
    assertThat(warnings).as("one warning for one crossing").hasSize(1);
    assertThat(warnings.get(0).getJsonObject("data").getLong("usage")).isEqualTo(120 * KiB);
    assertThat(warnings.get(0).getJsonObject("data").getLong("soft_limit")).isEqualTo(100 * KiB);

    eventually(Duration.ofSeconds(20), () -> assertThat(metrics()).contains("quota_proxy_webhook_deliveries{state=\"pending\"} 0.0")
        .contains("quota_proxy_webhook_deliveries{state=\"failed\"} 0.0"));
    JsonObject log = get("/api/v1/webhooks/deliveries?scope=hooked&type=QUOTA_EXCEEDED");
    assertThat(log.getJsonArray("deliveries")).singleElement().satisfies(entry -> {
      JsonObject delivery = (JsonObject) entry;
      assertThat(delivery.getString("state")).isEqualTo("delivered");
      assertThat(delivery.getString("endpoint")).isEqualTo("all");
      assertThat(delivery.getJsonArray("attempt_log")).hasSize(1);
    });
  }

  /** A count soft limit warns as storage's does: the push that makes the second repository is one QUOTA_WARNING. */
  @Test
  void aNewRepositoryOverTheSoftRepositoryLimitIsOneWarning() throws Exception {
    assertThat(client.pushBlob("counted/a", randomBytes(KiB)).status()).isEqualTo(201);
    assertThat(client.pushBlob("counted/b", randomBytes(KiB)).status()).as("reaches the soft limit of 2").isEqualTo(201);
    assertThat(client.pushBlob("counted/b", randomBytes(KiB)).status()).as("no new repository").isEqualTo(201);

    eventually(Duration.ofSeconds(20), () -> assertThat(received("QUOTA_WARNING", "counted")).hasSize(1));
    assertThat(received("QUOTA_WARNING", "counted").get(0).getJsonObject("data")).isEqualTo(new JsonObject()
        .put("resource", "repositories").put("usage", 2).put("usage_before", 1).put("soft_limit", 2).put("hard_limit", 3)
        .put("percent_of_hard", 66.7));
  }

  @Test
  void pullsRefusedInAnEgressWindowAreOneEvent() throws Exception {
    byte[] blob = randomBytes(60 * KiB);
    assertThat(client.pushBlob("eg/x", blob).status()).isEqualTo(201);
    String path = "/v2/eg/x/blobs/" + OciTestClient.digest(blob);
    assertThat(client.get(path).status()).isEqualTo(200);
    assertThat(client.get(path).status()).isEqualTo(429);
    assertThat(client.get(path).status()).isEqualTo(429);

    eventually(Duration.ofSeconds(20), () -> assertThat(received("EGRESS_LIMITED", "eg")).hasSize(1));
    JsonObject data = received("EGRESS_LIMITED", "eg").get(0).getJsonObject("data");
    assertThat(data.getLong("limit")).isEqualTo(100 * KiB);
    assertThat(data.getLong("window_seconds")).isEqualTo(86_400);
    // The second refusal is in the ledger too (the feed has moved both), and made no second event.
    eventually(Duration.ofSeconds(20), () -> assertThat(postgresCount("select count(*) from rejections where scope = 'eg'")).isEqualTo(2));
    assertThat(received("EGRESS_LIMITED", "eg")).hasSize(1);
  }

  @Test
  void readOnlyForcedAndLiftedAreAnnouncedOnce() throws Exception {
    assertThat(send("PUT", "/api/v1/system", new JsonObject().put("read_only", true)).statusCode()).isEqualTo(200);
    eventually(Duration.ofSeconds(20), () -> assertThat(received("READ_ONLY", "")).hasSize(1));
    assertThat(received("READ_ONLY", "").get(0).getJsonObject("data").getBoolean("forced")).isTrue();

    assertThat(send("PUT", "/api/v1/system", new JsonObject().put("read_only", false)).statusCode()).isEqualTo(200);
    eventually(Duration.ofSeconds(20), () -> assertThat(received("WRITABLE", "")).hasSize(1));
    assertThat(received("READ_ONLY", "")).hasSize(1);
  }

  @Test
  void theDeliveryLogIsForAdminsOnly() throws Exception {
    HttpResponse<String> viewer = http.send(HttpRequest.newBuilder(URI.create(admin + "/api/v1/webhooks/deliveries?scope=hooked"))
        .header("Authorization", "Bearer " + VIEWER).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(viewer.statusCode()).as(viewer.body()).isEqualTo(403);
    HttpResponse<String> nobody = http.send(HttpRequest.newBuilder(URI.create(admin + "/api/v1/webhooks/deliveries")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(nobody.statusCode()).isEqualTo(401);
    HttpResponse<String> badState = http.send(HttpRequest.newBuilder(URI.create(admin + "/api/v1/webhooks/deliveries?state=lost"))
        .header("Authorization", "Bearer " + ADMIN).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(badState.statusCode()).as("validated against the contract").isEqualTo(400);
  }

  private static long postgresCount(String sql) throws Exception {
    var pool = backends.ledgerDatabase.pool(vertx, 1);
    try {
      return pool.query(sql).execute().await(10, TimeUnit.SECONDS).iterator().next().getLong(0);
    } finally {
      pool.close().await(10, TimeUnit.SECONDS);
    }
  }

  private static String metrics() throws IOException, InterruptedException {
    return http.send(HttpRequest.newBuilder(URI.create(admin + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
  }

  private static JsonObject get(String path) throws IOException, InterruptedException {
    HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(admin + path))
        .header("Authorization", "Bearer " + ADMIN).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    return new JsonObject(response.body());
  }

  private static HttpResponse<String> send(String method, String path, JsonObject body) throws IOException, InterruptedException {
    return http.send(HttpRequest.newBuilder(URI.create(admin + path)).method(method, HttpRequest.BodyPublishers.ofString(body.encode()))
        .header("Content-Type", "application/json").header("Authorization", "Bearer " + ADMIN).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

}
