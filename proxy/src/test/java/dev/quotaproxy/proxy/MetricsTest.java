package dev.quotaproxy.proxy;

import dev.quotaproxy.proxy.metrics.MetricsRoutes;
import static dev.quotaproxy.proxy.support.OciTestClient.digest;
import static dev.quotaproxy.proxy.support.OciTestClient.image;
import static dev.quotaproxy.proxy.support.OciTestClient.randomBytes;
import static dev.quotaproxy.testing.Eventually.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.admin.AdminApi;
import dev.quotaproxy.admin.AdminTokens;
import dev.quotaproxy.config.AdminTokenConfig;
import dev.quotaproxy.metering.sync.Reconciliations;
import dev.quotaproxy.proxy.metrics.Readiness;
import dev.quotaproxy.proxy.metrics.StateSampler;
import dev.quotaproxy.metering.QuotaKeys;
import dev.quotaproxy.proxy.support.OciTestClient;
import dev.quotaproxy.proxy.support.OciTestClient.Image;
import dev.quotaproxy.proxy.support.PrometheusText;
import dev.quotaproxy.proxy.support.ProxyFixture;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.sqlclient.Pool;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The admin listener's /metrics, /healthz and /readyz over a proxy with quotas, a real registry, a real
 * Redis and a real Postgres ledger: what the scrape shows after pushes, pulls and refusals, and what
 * the probes say as the stores go away.
 */
class MetricsTest {
  private static final int KiB = 1024;
  private static final long ACME_LIMIT = 1024 * KiB;
  private static final String ADMIN_TOKEN = "metrics-test-admin-token-0123456789";

  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @RegisterExtension final ProxyFixture proxy = ProxyFixture.of("""
      quota:
        scopes:
          acme: {storage-hard: 1MiB}
          globex: {storage-hard: 100MiB}
      """).withLedger();
  private Redis redis;
  private StateSampler sampler;
  private HttpServer admin;

  @BeforeEach
  void start() throws Exception {
    Vertx vertx = proxy.harness().vertx();
    // Wired as the proxy process wires it: the sampler on its own Redis client and ledger pool.
    redis = Redis.createClient(vertx, proxy.harness().redis().url());
    Pool pool = proxy.ledger().postgres().database().pool(vertx, 2);
    sampler = proxy.harness().metrics().sample(vertx, redis, pool);
    URI registry = URI.create(proxy.harness().registry().url());
    Readiness readiness = new Readiness()
        .check("redis", Readiness.redis(redis))
        .check("postgres", Readiness.postgres(pool))
        .check("upstream", Readiness.upstream(vertx.createHttpClient(
            new HttpClientOptions().setDefaultHost(registry.getHost()).setDefaultPort(registry.getPort()))));
    AdminTokens tokens = new AdminTokens(List.of(new AdminTokenConfig("ops", ADMIN_TOKEN, AdminTokenConfig.Role.ADMIN, List.of())));
    Router router = await(AdminApi.router(vertx, tokens, List.of(new MetricsRoutes(proxy.harness().metrics(), readiness))));
    admin = await(vertx.createHttpServer().requestHandler(router).listen(0, "127.0.0.1"));
  }

  @Test
  void theScrapeCountsRequestsBytesAndRejectionsAndShowsTheScopeNearItsLimit() throws Exception {
    byte[] layer = randomBytes(900 * KiB);
    Image image = image(layer);
    assertThat(proxy.client().pushImage("acme/app", "1", image).status()).isEqualTo(201);
    byte[] small = randomBytes(10 * KiB);
    assertThat(proxy.client().pushBlob("globex/web", small).status()).isEqualTo(201);
    for (int i = 0; i < 2; i++) {
      assertThat(proxy.client().send("GET", "/v2/acme/app/manifests/1", java.net.http.HttpRequest.BodyPublishers.noBody(),
          "Accept", OciTestClient.OCI_MANIFEST).status()).isEqualTo(200);
      assertThat(proxy.client().get("/v2/acme/app/blobs/" + digest(layer)).status()).isEqualTo(200);
    }
    // 900 KiB and more are in acme: 200 KiB more does not fit its 1 MiB.
    assertThat(proxy.client().pushBlob("acme/app", randomBytes(200 * KiB)).status()).isEqualTo(403);
    await(sampler.sampleOnce());

    PrometheusText scrape = scrape();

    // Requests by operation, status and outcome.
    assertThat(scrape.value("quota_proxy_requests_total", "operation", "MANIFEST_PUT", "status", "201", "outcome", "ok")).isEqualTo(1);
    assertThat(scrape.value("quota_proxy_requests_total", "operation", "UPLOAD_START", "status", "202", "outcome", "ok")).isEqualTo(4);
    assertThat(scrape.value("quota_proxy_requests_total", "operation", "UPLOAD_COMPLETE", "status", "201", "outcome", "ok")).isEqualTo(3);
    assertThat(scrape.value("quota_proxy_requests_total", "operation", "UPLOAD_COMPLETE", "status", "403", "outcome", "refused"))
        .isEqualTo(1);
    assertThat(scrape.value("quota_proxy_requests_total", "operation", "BLOB_GET", "status", "200", "outcome", "ok")).isEqualTo(2);
    assertThat(scrape.value("quota_proxy_requests_total", "operation", "MANIFEST_GET", "status", "200", "outcome", "ok")).isEqualTo(2);
    assertThat(scrape.type("quota_proxy_requests_total")).contains("counter");
    // Bodies each way: the blobs pushed (of the refused one only the first piece, which the proxy takes to
    // know a body is really coming before it asks anything of anyone), the blob pulled twice.
    assertThat(scrape.value("quota_proxy_received_bytes_total", "operation", "UPLOAD_COMPLETE"))
        .isBetween((double) image.config().length + layer.length + small.length,
            (double) image.config().length + layer.length + small.length + 256 * KiB);
    assertThat(scrape.value("quota_proxy_received_bytes_total", "operation", "MANIFEST_PUT")).isEqualTo(image.manifestSize());
    assertThat(scrape.value("quota_proxy_sent_bytes_total", "operation", "BLOB_GET")).isEqualTo(2.0 * layer.length);
    // The latency histogram: every request in the +Inf bucket and the count, buckets never decreasing.
    assertThat(scrape.type("quota_proxy_request_duration_seconds")).contains("histogram");
    assertThat(scrape.value("quota_proxy_request_duration_seconds_count", "operation", "BLOB_GET", "outcome", "ok")).isEqualTo(2);
    assertThat(scrape.value("quota_proxy_request_duration_seconds_bucket", "operation", "BLOB_GET", "outcome", "ok", "le", "+Inf"))
        .isEqualTo(2);
    List<Double> buckets = scrape.find("quota_proxy_request_duration_seconds_bucket", "operation", "BLOB_GET", "outcome", "ok")
        .stream().map(PrometheusText.Sample::value).toList();
    assertThat(buckets).hasSize(16).isSorted();
    // The refusal, by reason.
    assertThat(scrape.value("quota_proxy_rejections_total", "operation", "UPLOAD_COMPLETE", "reason", "storage_limit")).isEqualTo(1);
    assertThat(scrape.find("quota_proxy_rejections_total")).hasSize(1);
    // acme is past 80% of its limit and has gauges; globex (under 1%) has none.
    long acmeUsed = proxy.harness().scope(proxy.store(), "acme").used();
    assertThat(acmeUsed).isEqualTo(image.totalSize());
    assertThat(scrape.value("quota_proxy_scope_usage_bytes", "scope", "acme")).isEqualTo(acmeUsed);
    assertThat(scrape.value("quota_proxy_scope_limit_bytes", "scope", "acme")).isEqualTo(ACME_LIMIT);
    assertThat(scrape.value("quota_proxy_scope_usage_ratio", "scope", "acme")).isEqualTo((double) acmeUsed / ACME_LIMIT);
    assertThat(scrape.find("quota_proxy_scope_usage_bytes")).hasSize(1);
    assertThat(scrape.value("quota_proxy_scopes_near_limit")).isEqualTo(1);
    assertThat(scrape.value("quota_proxy_system_usage_bytes")).isEqualTo(acmeUsed + small.length);
    assertThat(scrape.value("quota_proxy_system_hard_limit_bytes")).isEqualTo(-1);
    assertThat(scrape.value("quota_proxy_system_read_only")).isZero();
    // Redis latency, timed in the store: every push reserved and committed.
    assertThat(scrape.value("quota_proxy_redis_call_duration_seconds_count", "operation", "reserve_bytes", "outcome", "ok"))
        .isGreaterThanOrEqualTo(4);
    assertThat(scrape.value("quota_proxy_redis_call_duration_seconds_count", "operation", "commit_blob", "outcome", "ok"))
        .isEqualTo(3);
    // Vert.x's own per-request HTTP meters are off by default (admin.vertx-http-metrics): the proxy's own count them.
    assertThat(scrape.find("vertx_http_server_requests_total")).isEmpty();
    assertThat(scrape.sum("quota_proxy_state_sample_failures_total")).isZero();

    // The image deleted, acme falls far under its limit and its gauges go.
    assertThat(proxy.client().delete("/v2/acme/app/manifests/" + image.manifestDigest()).status()).isEqualTo(202);
    assertThat(proxy.harness().scope(proxy.store(), "acme").used()).isLessThan(ACME_LIMIT / 2);
    await(sampler.sampleOnce());
    PrometheusText later = scrape();
    assertThat(later.find("quota_proxy_scope_usage_bytes")).isEmpty();
    assertThat(later.find("quota_proxy_scope_limit_bytes")).isEmpty();
    assertThat(later.value("quota_proxy_scopes_near_limit")).isZero();
  }

  @Test
  void ledgerLagAndDriftAreSampledFromRedisAndPostgres() throws Exception {
    assertThat(proxy.client().pushBlob("acme/app", randomBytes(100 * KiB)).status()).isEqualTo(201);
    assertThat(proxy.client().pushBlob("globex/web", randomBytes(10 * KiB)).status()).isEqualTo(201);
    await(sampler.sampleOnce());
    PrometheusText before = scrape();
    // Nothing fed yet: both commits wait in their namespaces' streams.
    assertThat(before.value("quota_proxy_ledger_pending_events")).isGreaterThanOrEqualTo(2);
    assertThat(before.value("quota_proxy_ledger_oldest_pending_age_seconds")).isBetween(0.0, 60.0);

    while (await(proxy.ledger().feed().feedOnce()) > 0) {
      // drain
    }
    // Redis drifts from the ledger by 4 KiB in acme, which reconciliation finds and corrects.
    proxy.harness().redis().command(Request.cmd(Command.HINCRBY).arg(QuotaKeys.of("acme").used()).arg("acme").arg(4 * KiB));
    await(new Reconciliations(redis, proxy.ledger().ledger(), null, proxy.ledger().recovery()).redisAgainstLedger());
    await(sampler.sampleOnce());
    PrometheusText after = scrape();

    assertThat(after.value("quota_proxy_ledger_pending_events")).isZero();
    assertThat(after.value("quota_proxy_ledger_oldest_pending_age_seconds")).isZero();
    assertThat(after.value("quota_proxy_drift_scopes", "kind", "redis")).isEqualTo(1);
    assertThat(after.value("quota_proxy_drift_bytes", "kind", "redis")).isEqualTo(4 * KiB);
    assertThat(after.value("quota_proxy_reconciliation_finished_timestamp_seconds", "kind", "redis"))
        .isCloseTo(System.currentTimeMillis() / 1000.0, org.assertj.core.data.Offset.offset(120.0));
    // Postgres latency, from Vert.x's SQL client: every query of the ledger's pools, as a histogram.
    double queries = after.value("vertx_sql_processing_time_seconds_count");
    assertThat(queries).isGreaterThan(before.value("vertx_sql_processing_time_seconds_count"));
    assertThat(after.type("vertx_sql_processing_time_seconds")).contains("histogram");
    assertThat(after.value("vertx_sql_processing_time_seconds_bucket", "le", "+Inf")).isEqualTo(queries);
    assertThat(after.type("vertx_redis_processing_time_seconds")).contains("histogram");
  }

  @Test
  void withRedisDownPushesAreRefusedAsStoreUnavailableAndTheFailedCallsAreTimed() throws Exception {
    assertThat(proxy.client().pushBlob("acme/app", randomBytes(10 * KiB)).status()).isEqualTo(201);
    proxy.harness().redis().close();

    assertThat(proxy.client().pushBlob("acme/app", randomBytes(10 * KiB)).status()).isEqualTo(503);
    await(sampler.sampleOnce());
    PrometheusText scrape = scrape();

    assertThat(scrape.value("quota_proxy_rejections_total", "operation", "UPLOAD_START", "reason", "store_unavailable")).isEqualTo(1);
    assertThat(scrape.value("quota_proxy_requests_total", "operation", "UPLOAD_START", "status", "503", "outcome", "refused"))
        .isEqualTo(1);
    assertThat(scrape.sum("quota_proxy_redis_call_duration_seconds_count", "outcome", "failed")).isGreaterThanOrEqualTo(1);
    assertThat(scrape.value("quota_proxy_state_sample_failures_total", "source", "redis")).isGreaterThanOrEqualTo(1);
    assertThat(scrape.value("quota_proxy_state_sample_failures_total", "source", "postgres")).isZero();
  }

  @Test
  void readyWithEverythingUpThenNamesRedisOnceItStops() throws Exception {
    HttpResponse<String> ready = get("/readyz");
    assertThat(ready.statusCode()).isEqualTo(200);
    JsonObject body = new JsonObject(ready.body());
    assertThat(body.getString("status")).isEqualTo("ready");
    for (String check : List.of("redis", "postgres", "upstream")) {
      assertThat(body.getJsonObject("checks").getJsonObject(check).getBoolean("ok")).as(check).isTrue();
    }

    proxy.harness().redis().close();
    HttpResponse<String> notReady = get("/readyz");

    assertThat(notReady.statusCode()).isEqualTo(503);
    JsonObject failed = new JsonObject(notReady.body());
    assertThat(failed.getJsonArray("failed").getList()).containsExactly("redis");
    assertThat(failed.getJsonObject("checks").getJsonObject("redis").getString("error")).isNotBlank();
    assertThat(failed.getJsonObject("checks").getJsonObject("postgres").getBoolean("ok")).isTrue();
    assertThat(get("/healthz").statusCode()).as("alive all the same").isEqualTo(200);
  }

  @Test
  void notReadyNamingPostgresOnceItStops() throws Exception {
    proxy.ledger().postgres().close();

    HttpResponse<String> notReady = get("/readyz");

    assertThat(notReady.statusCode()).isEqualTo(503);
    JsonObject body = new JsonObject(notReady.body());
    assertThat(body.getJsonArray("failed").getList()).containsExactly("postgres");
    assertThat(body.getJsonObject("checks").getJsonObject("postgres").getString("error")).isNotBlank();
    assertThat(body.getJsonObject("checks").getJsonObject("redis").getBoolean("ok")).isTrue();
  }

  @Test
  void probesAndMetricsNeedNoTokenWhereTheApiDoes() throws Exception {
    assertThat(get("/api/v1/system").statusCode()).as("the API behind its token").isEqualTo(401);
    HttpResponse<String> health = get("/healthz");
    assertThat(health.statusCode()).isEqualTo(200);
    assertThat(new JsonObject(health.body()).getString("status")).isEqualTo("alive");
    HttpResponse<String> metrics = get("/metrics");
    assertThat(metrics.statusCode()).isEqualTo(200);
    assertThat(metrics.headers().firstValue("Content-Type")).hasValueSatisfying(type -> assertThat(type).startsWith("text/plain"));
  }

  private PrometheusText scrape() throws Exception {
    HttpResponse<String> response = get("/metrics");
    assertThat(response.statusCode()).isEqualTo(200);
    return PrometheusText.parse(response.body());
  }

  private HttpResponse<String> get(String path) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin.actualPort() + path))
        .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
  }
}
