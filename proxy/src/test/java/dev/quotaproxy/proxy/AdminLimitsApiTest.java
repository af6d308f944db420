package dev.quotaproxy.proxy;

import static dev.quotaproxy.proxy.support.OciTestClient.randomBytes;
import static dev.quotaproxy.testing.Eventually.eventually;
import static dev.quotaproxy.testing.Eventually.eventuallyGet;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.admin.AdminApi;
import dev.quotaproxy.admin.AdminTokens;
import dev.quotaproxy.admin.limits.LimitsRoutes;
import dev.quotaproxy.config.AdminTokenConfig;
import dev.quotaproxy.config.ProxyConfig;
import dev.quotaproxy.ledger.EmbeddedPostgresServer;
import dev.quotaproxy.ledger.Ledger;
import dev.quotaproxy.ledger.LedgerDatabase;
import dev.quotaproxy.ledger.limits.LimitsLedger;
import dev.quotaproxy.proxy.control.RedisQuotaControl;
import dev.quotaproxy.metering.sync.LedgerRecovery;
import dev.quotaproxy.metering.QuotaKeys;
import dev.quotaproxy.metering.support.StoreOnRedis;
import dev.quotaproxy.proxy.support.OciTestClient;
import dev.quotaproxy.ledger.support.RealRegistry;
import dev.quotaproxy.metering.support.TestRedis;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The limits, usage, system, reconciliation and audit endpoints as the proxy serves them: the
 * production wiring ({@link QuotaProxyMain#start}) in front of a real registry, with a real Redis and a
 * real Postgres, called over HTTP with the configured tokens. Each test works on scopes of its own.
 */
class AdminLimitsApiTest {
  private static final int KiB = 1024;
  private static final String ADMIN = "ops-token-0123456789";
  private static final String VIEWER = "acme-view-token-0123456789";
  private static final String CONFIG = """
      quota:
        system:
          refresh: 100ms
        scopes:
          fileowned: {storage-hard: 1MiB}
          filedeleted: {storage-hard: 2MiB}
          fileoverridden: {storage-hard: 3MiB}
      admin:
        tokens:
          ops: {token: "%s", role: admin}
          acme-view: {token: "%s", role: viewer, scopes: "acme"}
      """.formatted(ADMIN, VIEWER);

  static RealRegistry registry;
  static TestRedis redis;
  static EmbeddedPostgresServer postgres;
  static Path work;
  static Running proxy;
  static final HttpClient http = HttpClient.newHttpClient();

  /** One start of the proxy: its own Vert.x, so a restart is a new one on the same Redis and Postgres. */
  record Running(Vertx vertx, Backends backends, OciTestClient client, String admin) {
    void stop() throws Exception {
      vertx.close().await(20, TimeUnit.SECONDS);
      backends.close();
    }
  }

  @BeforeAll
  static void start() throws Exception {
    registry = RealRegistry.start();
    redis = TestRedis.start();
    postgres = EmbeddedPostgresServer.start();
    work = Files.createTempDirectory("admin-limits-test");
    proxy = startProxy(CONFIG);
  }

  @AfterAll
  static void stop() throws Exception {
    if (proxy != null) {
      proxy.stop();
    }
    if (postgres != null) {
      postgres.close();
    }
    if (redis != null) {
      redis.close();
    }
    if (registry != null) {
      registry.close();
    }
  }

  @AfterEach
  void systemBackToDefaults() throws Exception {
    send("PUT", "/api/v1/system", ADMIN, new JsonObject().put("hard_storage", -1).put("write_ratio", "100%").put("read_only", false)
        .put("allow_overcommit", false));
  }

  static Running startProxy(String yaml) throws Exception {
    Path config = Files.writeString(Files.createTempFile(work, "config", ".yaml"), yaml);
    int port = freePort();
    int adminPort = freePort();
    ProxyConfig proxyConfig = ProxyConfig.load(List.of("--config", config.toString(), "--upstream", registry.url(),
        "--host", "127.0.0.1", "--port", Integer.toString(port), "--proxy.event-loops", "1", "--redis.url", redis.url(),
        "--postgres.url", "postgresql://postgres:postgres@127.0.0.1:" + postgres.port() + "/postgres",
        "--admin.host", "127.0.0.1", "--admin.port", Integer.toString(adminPort)), Map.of());
    Backends backends = Backends.start(proxyConfig);
    Vertx vertx = Vertx.vertx();
    QuotaProxyMain.start(vertx, proxyConfig, backends).await(60, TimeUnit.SECONDS);
    return new Running(vertx, backends, new OciTestClient("http://127.0.0.1:" + port), "http://127.0.0.1:" + adminPort);
  }

  // ---- limits -----------------------------------------------------------------------------------

  @Test
  void aLimitSetThroughTheApiIsInForceForTheNextPushAndReadBack() throws Exception {
    var put = send("PUT", "/api/v1/limits?scope=acme", ADMIN, new JsonObject().put("storage_hard", "300KiB").put("storage_soft", "50%"));
    assertThat(put.statusCode()).as(put.body()).isEqualTo(200);
    JsonObject limits = new JsonObject(put.body());
    assertThat(limits.getLong("storage_hard")).isEqualTo(300 * KiB);
    assertThat(limits.getLong("storage_soft")).isEqualTo(150 * KiB);
    assertThat(limits.getString("updated_by")).isEqualTo("ops");
    assertThat(limits.getBoolean("in_force")).isTrue();

    var refused = proxy.client().pushBlob("acme/app", randomBytes(400 * KiB));
    assertThat(refused.status()).isEqualTo(403);
    assertThat(refused.body()).contains("300.0 KiB");
    assertThat(proxy.client().pushBlob("acme/app", randomBytes(200 * KiB)).status()).isEqualTo(201);

    JsonObject read = json(send("GET", "/api/v1/limits?scope=acme", VIEWER, null), 200);
    assertThat(read.getLong("storage_hard")).isEqualTo(300 * KiB);
    JsonObject usage = json(send("GET", "/api/v1/usage?scope=acme", VIEWER, null), 200);
    assertThat(usage.getString("scope")).isEqualTo("acme");
    assertThat(usage.getJsonObject("usage").getJsonObject("storage_bytes").getLong("usage")).isEqualTo(200 * KiB);
    assertThat(usage.getJsonObject("usage").getJsonObject("storage_bytes").getLong("limit")).isEqualTo(300 * KiB);
    assertThat(usage.getJsonObject("usage").getJsonObject("egress_bytes").getLong("limit")).isEqualTo(-1);

    // A hard limit below usage is accepted: it blocks growth, deletes nothing.
    json(send("PUT", "/api/v1/limits?scope=acme", ADMIN, new JsonObject().put("storage_hard", 100 * KiB)), 200);
    assertThat(proxy.client().pushBlob("acme/app", randomBytes(KiB)).status()).isEqualTo(403);
    json(send("PUT", "/api/v1/limits?scope=acme", ADMIN, new JsonObject().put("storage_hard", "1MiB")), 200);
    assertThat(proxy.client().pushBlob("acme/app", randomBytes(KiB)).status()).isEqualTo(201);
  }

  @Test
  void countLimitsSetThroughTheApiRefuseTheNextNewRepositoryAndShowInTheUsage() throws Exception {
    JsonObject limits = json(send("PUT", "/api/v1/limits?scope=counted", ADMIN, new JsonObject().put("repositories_hard", 1)
        .put("manifests_hard", 5).put("manifests_soft", 4)), 200);
    assertThat(limits.getLong("repositories_hard")).isEqualTo(1);
    assertThat(limits.getLong("repositories_soft")).isEqualTo(-1);
    assertThat(limits.getLong("manifests_soft")).isEqualTo(4);

    assertThat(proxy.client().pushBlob("counted/one", randomBytes(KiB)).status()).isEqualTo(201);
    assertThat(proxy.client().pushBlob("counted/one", randomBytes(KiB)).status()).as("into a repository it holds").isEqualTo(201);
    var refused = proxy.client().pushBlob("counted/two", randomBytes(KiB));
    assertThat(refused.status()).isEqualTo(403);
    assertThat(refused.body()).contains("counted holds 1 repository, at its limit of 1; the new repository counted/two would make 2");

    JsonObject usage = json(send("GET", "/api/v1/usage?scope=counted", ADMIN, null), 200).getJsonObject("usage");
    assertThat(usage.getJsonObject("repositories").getMap()).containsEntry("usage", 1).containsEntry("limit", 1)
        .containsEntry("reserved", 0).containsEntry("soft_limit", -1);
    assertThat(usage.getJsonObject("manifests").getMap()).containsEntry("usage", 0).containsEntry("limit", 5)
        .containsEntry("soft_limit", 4);
    JsonObject listed = scopeIn(json(send("GET", "/api/v1/scopes?sort=name&limit=500", ADMIN, null), 200), "counted");
    assertThat(listed.getLong("repositories")).isEqualTo(1);
    assertThat(listed.getJsonObject("limits").getLong("repositories_hard")).isEqualTo(1);

    var soft = send("PUT", "/api/v1/limits?scope=counted", ADMIN, new JsonObject().put("repositories_hard", 2).put("repositories_soft", 3));
    assertThat(soft.statusCode()).isEqualTo(400);
    assertThat(error(soft).getString("message")).isEqualTo("repositories_soft must not exceed the hard limit: 3 is more than 2");
    assertThat(send("PUT", "/api/v1/limits?scope=counted", ADMIN, new JsonObject().put("manifests_hard", "many")).statusCode())
        .isEqualTo(400);
    assertThat(send("PUT", "/api/v1/limits?scope=counted", ADMIN, new JsonObject().put("manifests_hard", -2)).statusCode())
        .isEqualTo(400);
    assertThat(json(send("GET", "/api/v1/limits?scope=counted", ADMIN, null), 200).getLong("repositories_hard"))
        .as("unchanged by the refused puts").isEqualTo(1);
  }

  @Test
  void deletingLimitsLeavesTheScopeUnlimitedAndSaysSoWhenThereIsNothingToDelete() throws Exception {
    json(send("PUT", "/api/v1/limits?scope=deleteme", ADMIN, new JsonObject().put("storage_hard", 10 * KiB)), 200);
    assertThat(proxy.client().pushBlob("deleteme/app", randomBytes(20 * KiB)).status()).isEqualTo(403);
    assertThat(send("DELETE", "/api/v1/limits?scope=deleteme", ADMIN, null).statusCode()).isEqualTo(204);
    assertThat(proxy.client().pushBlob("deleteme/app", randomBytes(20 * KiB)).status()).isEqualTo(201);
    assertThat(json(send("GET", "/api/v1/limits?scope=deleteme", ADMIN, null), 200).getLong("storage_hard")).isEqualTo(-1);
    var again = send("DELETE", "/api/v1/limits?scope=deleteme", ADMIN, null);
    assertThat(again.statusCode()).isEqualTo(404);
    assertThat(error(again).getString("message")).contains("deleteme has no limits");
  }

  @Test
  void badInputIsRefusedWith400SayingWhatIsWrong() throws Exception {
    var units = send("PUT", "/api/v1/limits?scope=badinput", ADMIN, new JsonObject().put("storage_hard", "10 parsecs"));
    assertThat(units.statusCode()).isEqualTo(400);
    assertThat(error(units).getString("message")).startsWith("storage_hard '10 parsecs' must be a size like 500M");
    var name = send("GET", "/api/v1/limits?scope=Bad_Name/", ADMIN, null);
    assertThat(name.statusCode()).isEqualTo(400);
    assertThat(error(name).getString("message")).contains("scope 'Bad_Name/' must be a repository name");
    var invalidPut = send("PUT", "/api/v1/limits?scope=acme//x", ADMIN, new JsonObject().put("storage_hard", 1));
    assertThat(invalidPut.statusCode()).isEqualTo(400);
    var soft = send("PUT", "/api/v1/limits?scope=badinput", ADMIN, new JsonObject().put("storage_hard", "1G").put("storage_soft", "2G"));
    assertThat(soft.statusCode()).isEqualTo(400);
    assertThat(error(soft).getString("message")).isEqualTo("storage_soft must not exceed storage_hard: 2.0 GiB is more than 1.0 GiB");
    var unknownField = send("PUT", "/api/v1/limits?scope=badinput", ADMIN, new JsonObject().put("storage", "1G"));
    assertThat(unknownField.statusCode()).isEqualTo(400);
    var ratio = send("PUT", "/api/v1/system", ADMIN, new JsonObject().put("write_ratio", "101%"));
    assertThat(ratio.statusCode()).isEqualTo(400);
    assertThat(error(ratio).getString("message")).isEqualTo("write_ratio must be at most 100%");
    assertThat(send("PUT", "/api/v1/system", ADMIN, new JsonObject().put("write_ratio", "0%")).statusCode()).isEqualTo(400);
    assertThat(json(send("GET", "/api/v1/limits?scope=badinput", ADMIN, null), 200).getString("updated_by")).as("nothing recorded")
        .isNull();
  }

  @Test
  void tokensAreCheckedAndViewersReadOnlyTheirGrant() throws Exception {
    assertThat(send("GET", "/api/v1/limits?scope=acme", null, null).statusCode()).isEqualTo(401);
    assertThat(send("GET", "/api/v1/limits?scope=acme", "wrong-token-0123456789", null).statusCode()).isEqualTo(401);
    assertThat(send("PUT", "/api/v1/limits?scope=acme", "wrong-token-0123456789", new JsonObject().put("storage_hard", 1)).statusCode())
        .isEqualTo(401);
    var outside = send("GET", "/api/v1/usage?scope=globex", VIEWER, null);
    assertThat(outside.statusCode()).isEqualTo(403);
    assertThat(error(outside).getString("message")).contains("acme-view").contains("globex");
    assertThat(send("GET", "/api/v1/limits?scope=acmecorp", VIEWER, null).statusCode()).isEqualTo(403);
    assertThat(send("GET", "/api/v1/limits?scope=acme/team/app", VIEWER, null).statusCode()).isEqualTo(200);
    var viewerPut = send("PUT", "/api/v1/limits?scope=acme", VIEWER, new JsonObject().put("storage_hard", 1));
    assertThat(viewerPut.statusCode()).isEqualTo(403);
    assertThat(send("DELETE", "/api/v1/limits?scope=acme", VIEWER, null).statusCode()).isEqualTo(403);
    assertThat(send("GET", "/api/v1/system", VIEWER, null).statusCode()).isEqualTo(403);
    assertThat(send("PUT", "/api/v1/system", VIEWER, new JsonObject().put("read_only", true)).statusCode()).isEqualTo(403);
    assertThat(send("GET", "/api/v1/audit", VIEWER, null).statusCode()).isEqualTo(403);
    assertThat(send("POST", "/api/v1/reconciliations", VIEWER, null).statusCode()).isEqualTo(403);
  }

  @Test
  void anOvercommittingTopLevelLimitIsRefusedWithTheNumbersUnlessOvercommitIsAllowed() throws Exception {
    json(send("PUT", "/api/v1/limits?scope=over-a", ADMIN, new JsonObject().put("storage_hard", "1GiB")), 200);
    long sumBefore = topLevelHardSum();
    long hard = sumBefore + 512L * 1024 * 1024;
    json(send("PUT", "/api/v1/system", ADMIN, new JsonObject().put("hard_storage", hard)), 200);

    var refused = send("PUT", "/api/v1/limits?scope=over-b", ADMIN, new JsonObject().put("storage_hard", "1GiB"));
    assertThat(refused.statusCode()).isEqualTo(400);
    JsonObject error = error(refused);
    assertThat(error.getString("code")).isEqualTo("OVERCOMMIT");
    assertThat(error.getJsonObject("details")).isEqualTo(new JsonObject().put("sum", sumBefore + (1L << 30)).put("hard_storage", hard)
        .put("requested", 1L << 30));
    assertThat(error.getString("message")).contains("hard_storage").contains(Long.toString(hard));
    // Not top level: not summed.
    json(send("PUT", "/api/v1/limits?scope=over-b/team", ADMIN, new JsonObject().put("storage_hard", "1GiB")), 200);

    json(send("PUT", "/api/v1/system", ADMIN, new JsonObject().put("allow_overcommit", true)), 200);
    assertThat(json(send("PUT", "/api/v1/limits?scope=over-b", ADMIN, new JsonObject().put("storage_hard", "1GiB")), 200)
        .getLong("storage_hard")).isEqualTo(1L << 30);
    // Turning overcommit off again would leave the sum over hard_storage: refused too.
    assertThat(send("PUT", "/api/v1/system", ADMIN, new JsonObject().put("allow_overcommit", false)).statusCode()).isEqualTo(400);
    assertThat(send("DELETE", "/api/v1/limits?scope=over-a", ADMIN, null).statusCode()).isEqualTo(204);
    assertThat(send("DELETE", "/api/v1/limits?scope=over-b", ADMIN, null).statusCode()).isEqualTo(204);
  }

  // ---- system -----------------------------------------------------------------------------------

  @Test
  void systemSettingsShowUsageAndTheReadOnlyStateWhichCanBeForcedOnAndOffEverywhere() throws Exception {
    JsonObject system = json(send("GET", "/api/v1/system", ADMIN, null), 200);
    assertThat(system.getLong("hard_storage")).isEqualTo(-1);
    assertThat(system.getString("write_ratio")).isEqualTo("100%");
    assertThat(system.getJsonObject("read_only").getBoolean("in_force")).isFalse();
    assertThat(system.getJsonObject("usage").getLong("used")).isGreaterThanOrEqualTo(0);

    JsonObject forced = json(send("PUT", "/api/v1/system", ADMIN, new JsonObject().put("read_only", true).put("write_ratio", "95%")), 200);
    assertThat(forced.getJsonObject("read_only").getBoolean("forced")).isTrue();
    assertThat(forced.getString("write_ratio")).isEqualTo("95%");
    assertThat(forced.getString("updated_by")).isEqualTo("ops");
    awaitPush("readonly/app", 403);

    JsonObject computed = json(send("PUT", "/api/v1/system", ADMIN, new JsonObject().put("read_only", false).put("hard_storage", 1)
        .put("allow_overcommit", true)), 200);
    assertThat(computed.getJsonObject("read_only").getBoolean("forced")).isFalse();
    long used = computed.getJsonObject("usage").getLong("used");
    assertThat(computed.getJsonObject("read_only").getBoolean("computed")).isEqualTo(used >= 1);
    json(send("PUT", "/api/v1/system", ADMIN, new JsonObject().put("hard_storage", -1)), 200);
    awaitPush("readonly/app", 201);
  }

  // ---- listing, usage, audit, reconciliation ----------------------------------------------------

  @Test
  void scopesAreListedWithUsageAndLimitsSortedAndPagedAndViewersSeeTheirGrantOnly() throws Exception {
    json(send("PUT", "/api/v1/limits?scope=listed", ADMIN, new JsonObject().put("storage_hard", "1MiB")), 200);
    json(send("PUT", "/api/v1/limits?scope=listed/big", ADMIN, new JsonObject().put("storage_hard", "100KiB")), 200);
    assertThat(proxy.client().pushBlob("listed/big", randomBytes(80 * KiB)).status()).isEqualTo(201);
    assertThat(proxy.client().pushBlob("listed/small", randomBytes(10 * KiB)).status()).isEqualTo(201);

    JsonObject page = json(send("GET", "/api/v1/scopes?sort=ratio&order=desc&limit=500", ADMIN, null), 200);
    List<String> names = names(page);
    assertThat(names).containsSubsequence("listed/big", "listed");
    JsonObject big = scopeIn(page, "listed/big");
    assertThat(big.getLong("used")).isEqualTo(80 * KiB);
    assertThat(big.getDouble("ratio")).isEqualTo(0.8);
    assertThat(big.getJsonObject("limits").getLong("storage_hard")).isEqualTo(100 * KiB);
    assertThat(scopeIn(page, "listed/small").getValue("ratio")).isNull();

    JsonObject byName = json(send("GET", "/api/v1/scopes?sort=name&order=asc&offset=1&limit=2", ADMIN, null), 200);
    assertThat(byName.getLong("total")).isEqualTo(page.getLong("total"));
    assertThat(names(byName))
        .containsExactlyElementsOf(names(json(send("GET", "/api/v1/scopes?sort=name&order=asc&limit=500", ADMIN, null), 200))
            .subList(1, 3));

    assertThat(names(json(send("GET", "/api/v1/scopes?limit=500", VIEWER, null), 200)))
        .allMatch(n -> n.equals("acme") || n.startsWith("acme/"));
  }

  @Test
  void everyChangeIsInTheAuditLogWithWhoBeforeAndAfterNewestFirst() throws Exception {
    json(send("PUT", "/api/v1/limits?scope=audited", ADMIN, new JsonObject().put("storage_hard", 1000)), 200);
    json(send("PUT", "/api/v1/limits?scope=audited", ADMIN, new JsonObject().put("storage_hard", 2000)), 200);
    JsonObject audit = json(send("GET", "/api/v1/audit?limit=2", ADMIN, null), 200);
    JsonArray entries = audit.getJsonArray("entries");
    assertThat(entries).hasSize(2);
    JsonObject newest = entries.getJsonObject(0);
    assertThat(newest.getString("actor")).isEqualTo("ops");
    assertThat(newest.getString("action")).isEqualTo("limits.put");
    assertThat(newest.getString("subject")).isEqualTo("audited");
    assertThat(newest.getJsonObject("before").getLong("storage_hard")).isEqualTo(1000);
    assertThat(newest.getJsonObject("after").getLong("storage_hard")).isEqualTo(2000);
    assertThat(entries.getJsonObject(1).getJsonObject("before")).isNull();
    assertThat(Instant.parse(newest.getString("at"))).isAfterOrEqualTo(Instant.parse(entries.getJsonObject(1).getString("at")));
    assertThat(audit.getLong("total")).isGreaterThanOrEqualTo(2);
    assertThat(json(send("GET", "/api/v1/audit?from=2999-01-01T00:00:00Z", ADMIN, null), 200).getJsonArray("entries")).isEmpty();
  }

  @Test
  void reconcilingNowReturnsTheDriftReport() throws Exception {
    assertThat(proxy.client().pushBlob("reconciled/app", randomBytes(10 * KiB)).status()).isEqualTo(201);
    // Once the ledger has the push (the feed runs on its own), Redis is made to believe in usage that
    // neither the ledger nor the registry holds: the reconciliation finds and corrects it.
    var pool = postgres.database().pool(proxy.vertx(), 1);
    eventually(Duration.ofSeconds(20), () -> assertThat(pool.query("select used_bytes from scope_usage where scope = 'reconciled'")
        .execute().await(5, TimeUnit.SECONDS).size()).as("ledger rows for the push").isEqualTo(1));
    redis.command(Request.cmd(Command.HINCRBY).arg(QuotaKeys.of("reconciled").used()).arg("reconciled").arg(5000));
    JsonObject report = json(send("POST", "/api/v1/reconciliations", ADMIN, null), 200);
    assertThat(report.getJsonObject("redis").getJsonArray("drift").stream().map(JsonObject.class::cast)
        .filter(d -> d.getString("scope").equals("reconciled")).findFirst().orElseThrow().getLong("expected"))
        .isEqualTo(10 * KiB + 5000);
    assertThat(report.getJsonObject("registry").getBoolean("complete")).isTrue();
    assertThat(json(send("GET", "/api/v1/usage?scope=reconciled", ADMIN, null), 200).getJsonObject("usage")
        .getJsonObject("storage_bytes").getLong("usage")).isEqualTo(10 * KiB);
  }

  @Test
  void usageIsUnavailableWith400WhenTheQuotaStoreCannotBeAskedOrTheNamespaceCannotBeRestored() throws Exception {
    Vertx vertx = Vertx.vertx();
    try {
      int nothingListens = freePort();
      // Redis down.
      StoreOnRedis unreachable = StoreOnRedis.open(vertx, "redis://127.0.0.1:" + nothingListens, 1, Duration.ofHours(1));
      var down = usageThrough(vertx, new RedisQuotaControl(unreachable.usage(), unreachable.limits(), null, null), "acme");
      assertThat(down.statusCode()).isEqualTo(400);
      assertThat(error(down).getString("code")).isEqualTo("USAGE_UNAVAILABLE");
      assertThat(error(down).getString("message")).startsWith("usage is unavailable: the quota store cannot be reached");

      // Redis up, but it does not know the namespace's state and the ledger (Postgres down) cannot restore it.
      StoreOnRedis stores = StoreOnRedis.open(vertx, redis.url(), 1, Duration.ofHours(1));
      Ledger deadLedger = new Ledger(LedgerDatabase.fromUrl(URI.create("postgresql://postgres:postgres@127.0.0.1:" + nothingListens
          + "/postgres")).pool(vertx, 1));
      var recovery = new LedgerRecovery(vertx, io.vertx.redis.client.Redis.createClient(vertx, redis.url()), deadLedger);
      var unknown = usageThrough(vertx, new RedisQuotaControl(stores.usage(), stores.limits(), recovery, null), "neverseen");
      assertThat(unknown.statusCode()).isEqualTo(400);
      assertThat(error(unknown).getString("message")).contains("namespace neverseen").contains("could not be restored from the ledger");
    } finally {
      vertx.close().await(10, TimeUnit.SECONDS);
    }
  }

  private static HttpResponse<String> usageThrough(Vertx vertx, RedisQuotaControl control, String scope) throws Exception {
    var router = AdminApi
        .router(vertx, new AdminTokens(List.of(new AdminTokenConfig("ops", ADMIN, AdminTokenConfig.Role.ADMIN, List.of()))),
            List.of(new LimitsRoutes(new LimitsLedger(postgres.database().pool(vertx, 1)), control)))
        .await(20, TimeUnit.SECONDS);
    var server = vertx.createHttpServer().requestHandler(router).listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS);
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.actualPort() + "/api/v1/usage?scope=" + scope))
        .header("Authorization", "Bearer " + ADMIN).build(), HttpResponse.BodyHandlers.ofString());
  }

  // ---- persistence ------------------------------------------------------------------------------

  @Test
  void limitsComeBackFromPostgresWhenRedisLosesItsData() throws Exception {
    json(send("PUT", "/api/v1/limits?scope=flushed", ADMIN, new JsonObject().put("storage_hard", "50KiB")), 200);
    redis.flushAll();
    // The refresh finds the settings gone and refills Redis from Postgres, with the API's limits.
    awaitRedisLimit("flushed", 50 * KiB);
    // The refresh that wrote the limit back may have found the namespace still being restored: until the
    // next one, system usage is unknown and a push is refused 503 (fail closed). Only that is waited out.
    var refused = eventuallyGet(Duration.ofSeconds(20), () -> {
      var reply = proxy.client().pushBlob("flushed/app", randomBytes(60 * KiB));
      assertThat(reply.status()).as("a push while system usage is rebuilt: %s", reply.body()).isNotEqualTo(503);
      return reply;
    });
    assertThat(refused.status()).isEqualTo(403);
    assertThat(refused.body()).contains("50.0 KiB");
  }

  @Test
  void apiLimitsSurviveARestartAndTheFileDoesNotOverwriteThem() throws Exception {
    json(send("PUT", "/api/v1/limits?scope=fileoverridden", ADMIN, new JsonObject().put("storage_hard", "7MiB")), 200);
    assertThat(send("DELETE", "/api/v1/limits?scope=filedeleted", ADMIN, null).statusCode()).isEqualTo(204);
    json(send("PUT", "/api/v1/limits?scope=apionly", ADMIN, new JsonObject().put("storage_hard", "5MiB")), 200);

    proxy.stop();
    redis.flushAll();
    proxy = startProxy(CONFIG.replace("fileowned: {storage-hard: 1MiB}", "fileowned: {storage-hard: 4MiB}"));

    assertThat(limit("fileoverridden")).isEqualTo(7L << 20);
    assertThat(limit("filedeleted")).isEqualTo(-1);
    assertThat(limit("apionly")).isEqualTo(5L << 20);
    assertThat(limit("fileowned")).as("the file still owns what it wrote").isEqualTo(4L << 20);
    JsonObject owned = json(send("GET", "/api/v1/limits?scope=fileowned", ADMIN, null), 200);
    assertThat(owned.getString("updated_by")).isEqualTo("configuration");
    // And Redis, where the decisions are made, has the same.
    awaitRedisLimit("fileoverridden", 7L << 20);
    awaitRedisLimit("filedeleted", -1);
    awaitRedisLimit("fileowned", 4L << 20);
  }

  // ---- helpers ----------------------------------------------------------------------------------

  private static long limit(String scope) throws Exception {
    return json(send("GET", "/api/v1/limits?scope=" + scope, ADMIN, null), 200).getLong("storage_hard");
  }

  private static long topLevelHardSum() throws Exception {
    long sum = 0;
    for (Object entry : json(send("GET", "/api/v1/scopes?limit=1000", ADMIN, null), 200).getJsonArray("scopes")) {
      JsonObject scope = (JsonObject) entry;
      long hard = scope.getJsonObject("limits").getLong("storage_hard");
      if (!scope.getString("scope").contains("/") && hard >= 0) {
        sum += hard;
      }
    }
    return sum;
  }

  /** The read-only switch follows the system settings within one refresh (100 ms here). */
  private static void awaitPush(String repository, int status) throws Exception {
    eventually(Duration.ofSeconds(20),
        () -> assertThat(proxy.client().pushBlob(repository, randomBytes(KiB)).status()).as("a push to %s", repository).isEqualTo(status));
  }

  private static void awaitRedisLimit(String scope, long hard) throws Exception {
    StoreOnRedis stores = StoreOnRedis.open(proxy.vertx(), redis.url(), 1, Duration.ofHours(1));
    try {
      eventually(Duration.ofSeconds(20), () -> assertThat(stores.store().scope(scope).await(5, TimeUnit.SECONDS).limits().storageHard())
          .as("%s's hard limit in Redis", scope).isEqualTo(hard));
    } finally {
      stores.close();
    }
  }

  private static List<String> names(JsonObject page) {
    List<String> names = new ArrayList<>();
    page.getJsonArray("scopes").forEach(scope -> names.add(((JsonObject) scope).getString("scope")));
    return names;
  }

  private static JsonObject scopeIn(JsonObject page, String name) {
    return page.getJsonArray("scopes").stream().map(JsonObject.class::cast).filter(s -> s.getString("scope").equals(name))
        .findFirst().orElseThrow(() -> new AssertionError(name + " not listed in " + page));
  }

  static HttpResponse<String> send(String method, String path, String token, JsonObject body) throws IOException, InterruptedException {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(proxy.admin() + path))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body.encode()));
    if (body != null) {
      request.header("Content-Type", "application/json");
    }
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  static JsonObject json(HttpResponse<String> response, int status) {
    assertThat(response.statusCode()).as("%s %s: %s", response.request().method(), response.request().uri(), response.body())
        .isEqualTo(status);
    return new JsonObject(response.body());
  }

  static JsonObject error(HttpResponse<String> response) {
    return new JsonObject(response.body()).getJsonObject("error");
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }
}
