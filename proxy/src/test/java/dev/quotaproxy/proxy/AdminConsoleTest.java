package dev.quotaproxy.proxy;

import static dev.quotaproxy.proxy.support.OciTestClient.image;
import static dev.quotaproxy.proxy.support.OciTestClient.randomBytes;
import static dev.quotaproxy.testing.Eventually.eventuallyGet;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.config.ProxyConfig;
import dev.quotaproxy.ledger.EmbeddedPostgresServer;
import dev.quotaproxy.ledger.support.RealRegistry;
import dev.quotaproxy.metering.support.TestRedis;
import dev.quotaproxy.proxy.support.HeadlessChromium;
import dev.quotaproxy.proxy.support.OciTestClient;
import dev.quotaproxy.proxy.support.Skopeo;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The admin console ({@code /console}) in headless Chromium against the production wiring
 * ({@link QuotaProxyMain#start}) in front of a real registry, with a real Redis and Postgres: a limit set
 * in its form refuses the next real push (skopeo) with that figure, an API error shows in place, scopes
 * are drawn closest to their limit first. Each test works on scopes of its own.
 *
 * <p>{@code -Dconsole.screenshot=docs/console.png} (a path from the repository's root) also keeps the
 * screenshot taken after the limit was set there: the README's is made so.
 */
class AdminConsoleTest {
  private static final int KiB = 1024;
  private static final String ADMIN = "ops-token-0123456789";
  private static final String VIEWER = "formed-view-token-0123456789";
  private static final Duration WAIT = Duration.ofSeconds(20);

  static RealRegistry registry;
  static TestRedis redis;
  static EmbeddedPostgresServer postgres;
  static Vertx vertx;
  static Backends backends;
  static OciTestClient client;
  static String proxyHostPort;
  static String admin;
  static final HttpClient http = HttpClient.newHttpClient();

  @BeforeAll
  static void start() throws Exception {
    registry = RealRegistry.start();
    redis = TestRedis.start();
    postgres = EmbeddedPostgresServer.start();
    Path config = Files.writeString(Files.createTempFile("console-test", ".yaml"), """
        quota:
          system:
            refresh: 100ms
        admin:
          tokens:
            ops: {token: "%s", role: admin}
            formed-view: {token: "%s", role: viewer, scopes: "formed"}
        """.formatted(ADMIN, VIEWER));
    int port = freePort();
    int adminPort = freePort();
    ProxyConfig proxyConfig = ProxyConfig.load(List.of("--config", config.toString(), "--upstream", registry.url(), "--host", "127.0.0.1",
        "--port", Integer.toString(port), "--proxy.event-loops", "1", "--redis.url", redis.url(), "--postgres.url",
        "postgresql://postgres:postgres@127.0.0.1:" + postgres.port() + "/postgres", "--admin.host", "127.0.0.1", "--admin.port",
        Integer.toString(adminPort)), Map.of());
    backends = Backends.start(proxyConfig);
    vertx = Vertx.vertx();
    QuotaProxyMain.start(vertx, proxyConfig, backends).await(60, TimeUnit.SECONDS);
    proxyHostPort = "127.0.0.1:" + port;
    client = new OciTestClient("http://" + proxyHostPort);
    admin = "http://127.0.0.1:" + adminPort;
    // Until the proxy has rebuilt system usage in the fresh Redis, pushes are refused 503 (fail closed).
    assertThat(pushed(() -> client.pushBlob("warmup/app", randomBytes(KiB))).status()).isEqualTo(201);
  }

  @AfterAll
  static void stop() throws Exception {
    if (vertx != null) {
      vertx.close().await(20, TimeUnit.SECONDS);
      backends.close();
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

  @Test
  void thePageNeedsNoTokenItsDataDoes() throws Exception {
    var page = send("GET", "/console", null, null);
    assertThat(page.statusCode()).isEqualTo(200);
    assertThat(page.headers().firstValue("Content-Type")).hasValueSatisfying(type -> assertThat(type).startsWith("text/html"));
    assertThat(page.headers().firstValue("Content-Security-Policy"))
        .hasValueSatisfying(csp -> assertThat(csp).contains("script-src 'self'"));
    assertThat(page.body()).contains("/console/console.js", "/reports/report.css", "id=\"limits-form\"");
    for (String file : List.of("console.js", "console-api.js", "console-logs.js", "console.css")) {
      assertThat(send("GET", "/console/" + file, null, null).statusCode()).as(file).isEqualTo(200);
    }
    assertThat(send("GET", "/api/v1/scopes", null, null).statusCode()).isEqualTo(401);
  }

  @Test
  void aHardLimitSetInTheFormRefusesTheNextPushWithThatFigure() throws Exception {
    Skopeo.assumeInstalled();
    assertThat(pushed(() -> client.pushImage("formed/app", "1", image(randomBytes(100 * KiB)))).status()).isEqualTo(201);
    try (HeadlessChromium chromium = HeadlessChromium.start()) {
      chromium.open(admin + "/console#token=" + ADMIN);
      chromium.waitFor("document.body.dataset.state === 'rendered'", WAIT);
      assertThat(order(chromium)).contains("formed");

      chromium.type("#limit-scope", "formed");
      chromium.type("#limit-storage_hard", "300KiB");
      chromium.type("#limit-storage_soft", "50%");
      chromium.click("#limit-save");
      chromium.waitFor("document.getElementById('limits-form').dataset.state === 'saved'", WAIT);
      assertThat(chromium.text("#limits-message")).contains("formed: hard 300.0 KiB, soft 150.0 KiB").contains("in force");
      // The list is drawn again with the new limit: the scope's bar has both marks and its closeness.
      chromium.waitFor("document.querySelector('.scope[data-scope=\"formed\"] .mark.hard')", WAIT);
      assertThat(Double.parseDouble(chromium.attribute(".scope[data-scope=\"formed\"]", "data-closeness"))).isBetween(0.33, 0.36);
      assertThat(chromium.eval("document.querySelectorAll('.scope[data-scope=\"formed\"] .mark.soft').length")).isEqualTo(1);
      chromium.waitFor("document.querySelector('#audit tbody').textContent.includes('formed')", WAIT);
      assertThat(chromium.text("#audit tbody tr")).contains("limits.put").contains("storage_hard 300.0 KiB");
      String screenshot = System.getProperty("console.screenshot");
      Path png = Path.of("target", "admin-console-test.png");
      chromium.screenshot(png);
      assertThat(Files.size(png)).isGreaterThan(10_000);
      if (screenshot != null && !screenshot.isBlank()) {
        Files.copy(png, Path.of("..").resolve(screenshot), StandardCopyOption.REPLACE_EXISTING);
      }

      Path layout = Skopeo.layout(Files.createTempDirectory("console-layout"), "2", image(randomBytes(300 * KiB)));
      Skopeo.Result refused = skopeo(layout, "2", "formed/app");
      assertThat(refused.succeeded()).as(refused.output()).isFalse();
      assertThat(refused.output()).contains("denied").contains("300.0 KiB storage limit");

      // Removing them in the form lets the same push through.
      chromium.click(".scope[data-scope=\"formed\"]");
      assertThat((String) chromium.eval("document.getElementById('limit-storage_hard').value")).isEqualTo("300KiB");
      chromium.click("#limit-remove");
      chromium.waitFor("document.getElementById('limits-form').dataset.state === 'saved'", WAIT);
      assertThat(chromium.text("#limits-message")).isEqualTo("formed has no limits now.");
      Skopeo.Result pushed = skopeo(layout, "2", "formed/app");
      assertThat(pushed.succeeded()).as(pushed.output()).isTrue();
    }
  }

  @Test
  void aRepositoryLimitSetInTheFormRefusesTheNextNewRepositoryAndABadOneIsShownInPlace() throws Exception {
    assertThat(client.pushBlob("formcount/a", randomBytes(KiB)).status()).isEqualTo(201);
    try (HeadlessChromium chromium = HeadlessChromium.start()) {
      chromium.open(admin + "/console#token=" + ADMIN);
      chromium.waitFor("document.body.dataset.state === 'rendered'", WAIT);
      chromium.type("#limit-scope", "formcount");
      chromium.type("#limit-repositories_hard", "2");
      chromium.type("#limit-repositories_soft", "3");
      chromium.click("#limit-save");
      chromium.waitFor("document.getElementById('limits-form').dataset.state === 'error'", WAIT);
      assertThat(chromium.text("#limits-message")).isEqualTo("repositories_soft must not exceed the hard limit: 3 is more than 2");
      assertThat(chromium.eval("document.getElementById('limit-repositories_soft').classList.contains('invalid')")).isEqualTo(true);

      chromium.type("#limit-repositories_hard", "1");
      chromium.type("#limit-repositories_soft", "");
      chromium.click("#limit-save");
      chromium.waitFor("document.getElementById('limits-form').dataset.state === 'saved'", WAIT);
      assertThat(chromium.text("#limits-message")).contains("formcount: hard unlimited").contains("repositories 1");
      // The list is drawn again after the save: a click on the new row fills the form with the new limit.
      chromium.waitFor("(document.querySelector('.scope[data-scope=\"formcount\"]')?.click(),"
          + " document.getElementById('limit-repositories_hard').value === '1')", WAIT);
    }
    var refused = client.pushBlob("formcount/b", randomBytes(KiB));
    assertThat(refused.status()).isEqualTo(403);
    assertThat(refused.body()).contains("formcount holds 1 repository, at its limit of 1");
  }

  @Test
  void theApisErrorIsShownInPlaceAndNothingIsRecorded() throws Exception {
    try (HeadlessChromium chromium = HeadlessChromium.start()) {
      chromium.open(admin + "/console#token=" + ADMIN);
      chromium.waitFor("document.body.dataset.state === 'rendered'", WAIT);
      chromium.type("#limit-scope", "misformed");
      chromium.type("#limit-storage_hard", "1GiB");
      chromium.type("#limit-storage_soft", "2GiB");
      chromium.click("#limit-save");
      chromium.waitFor("document.getElementById('limits-form').dataset.state === 'error'", WAIT);
      assertThat(chromium.text("#limits-message")).isEqualTo("storage_soft must not exceed storage_hard: 2.0 GiB is more than 1.0 GiB");
      assertThat(chromium.eval("document.getElementById('limit-storage_soft').classList.contains('invalid')")).isEqualTo(true);
      assertThat(chromium.eval("document.getElementById('limit-storage_hard').classList.contains('invalid')")).isEqualTo(false);

      chromium.type("#limit-storage_hard", "10 parsecs");
      chromium.type("#limit-storage_soft", "");
      chromium.click("#limit-save");
      chromium.waitFor("document.getElementById('limits-message').textContent.startsWith('storage_hard')", WAIT);
      assertThat(chromium.text("#limits-message")).startsWith("storage_hard '10 parsecs' must be a size like 500M");
    }
    JsonObject limits = new JsonObject(send("GET", "/api/v1/limits?scope=misformed", ADMIN, null).body());
    assertThat(limits.getValue("updated_by")).as("nothing recorded").isNull();
  }

  @Test
  void sharesSetInTheFormGoToTheGroupsAndOneOverAHundredPercentIsShownInPlace() throws Exception {
    try (HeadlessChromium chromium = HeadlessChromium.start()) {
      chromium.open(admin + "/console#token=" + ADMIN);
      chromium.waitFor("document.body.dataset.state === 'rendered'", WAIT);
      chromium.type("#limit-scope", "shared");
      chromium.type("#limit-storage_hard", "1GiB");
      chromium.type("#limit-shares", "uni: 60%, corp: 40%");
      chromium.click("#limit-save");
      chromium.waitFor("document.getElementById('limits-form').dataset.state === 'saved'", WAIT);
      assertThat(share("uni", "shared")).isEqualTo(60);
      assertThat(share("corp", "shared")).isEqualTo(40);

      // 20% moved from uni to corp: the lowered share goes first, so the sum never passes 100% on the way.
      chromium.type("#limit-shares", "corp: 60%, uni: 40%");
      chromium.click("#limit-save");
      chromium.waitFor("document.getElementById('limits-form').dataset.state === 'saved'", WAIT);
      assertThat(share("uni", "shared")).isEqualTo(40);
      assertThat(share("corp", "shared")).isEqualTo(60);

      chromium.type("#limit-shares", "corp: 70%");
      chromium.click("#limit-save");
      chromium.waitFor("document.getElementById('limits-form').dataset.state === 'error'", WAIT);
      assertThat(chromium.text("#limits-message")).contains("shared").contains("110");
      assertThat(share("corp", "shared")).as("nothing recorded").isEqualTo(60);

      // "-" takes the scope out of that group; the group the text leaves out keeps its share.
      assertThat(send("PUT", "/api/v1/groups/uni", ADMIN,
          new JsonObject().put("scopes", new JsonArray().add("shared").add("other")).put("shares", new JsonObject().put("shared", 40)))
          .statusCode()).isEqualTo(200);
      chromium.type("#limit-shares", "uni: -");
      chromium.click("#limit-save");
      chromium.waitFor("document.getElementById('limits-form').dataset.state === 'saved'", WAIT);
      JsonObject uni = new JsonObject(send("GET", "/api/v1/groups/uni", ADMIN, null).body());
      assertThat(uni.getJsonArray("scopes")).containsExactly("other");
      assertThat(uni.getJsonObject("shares", new JsonObject()).containsKey("shared")).isFalse();
      assertThat(share("corp", "shared")).isEqualTo(60);
      chromium.click(".scope[data-scope=\"shared\"]");
      chromium.waitFor("document.getElementById('limit-shares').value === 'corp: 60%'", WAIT);
    }
  }

  private int share(String group, String scope) throws Exception {
    JsonObject shares = new JsonObject(send("GET", "/api/v1/groups/" + group, ADMIN, null).body()).getJsonObject("shares");
    return ((Number) shares.getValue(scope)).intValue();
  }

  @Test
  void theSystemFormChangesWhatItWasChangedAndTheAuditLogPages() throws Exception {
    for (int i = 1; i <= 16; i++) {
      put("paged", new JsonObject().put("storage_hard", i * KiB));
    }
    try (HeadlessChromium chromium = HeadlessChromium.start()) {
      chromium.open(admin + "/console#token=" + ADMIN);
      chromium.waitFor("document.body.dataset.state === 'rendered'", WAIT);
      long total = new JsonObject(chromium.attribute("#audit", "data-rendered")).getLong("total");
      assertThat(chromium.text("#audit-range")).isEqualTo("1-15 of " + total + ", newest first");
      assertThat(chromium.text("#audit tbody tr")).contains("paged").contains("storage_hard 16.0 KiB");
      chromium.click("#audit-older");
      chromium.waitFor("JSON.parse(document.getElementById('audit').dataset.rendered).offset === 15", WAIT);
      assertThat(chromium.text("#audit-range")).startsWith("16-");
      assertThat(chromium.text("#audit tbody tr")).contains("paged").contains("storage_hard 1.0 KiB");

      chromium.type("#system-write_ratio", "101%");
      chromium.click("#system-save");
      chromium.waitFor("document.getElementById('system-form').dataset.state === 'error'", WAIT);
      assertThat(chromium.text("#system-message")).isEqualTo("write_ratio must be at most 100%");

      chromium.type("#system-write_ratio", "95%");
      chromium.click("#system-save");
      chromium.waitFor("document.getElementById('system-form').dataset.state === 'saved'", WAIT);
      assertThat(chromium.text("#system-message")).isEqualTo("Saved: write_ratio.");
      chromium.waitFor("document.getElementById('system-state').textContent.includes('Write ratio95%')", WAIT);
      JsonObject system = new JsonObject(send("GET", "/api/v1/system", ADMIN, null).body());
      assertThat(system.getString("write_ratio")).isEqualTo("95%");
      assertThat(system.getLong("hard_storage")).as("only what was changed is sent").isEqualTo(-1);
    } finally {
      send("PUT", "/api/v1/system", ADMIN, new JsonObject().put("write_ratio", "100%"));
    }
  }

  @Test
  void aWrongTokenSaysSoInsteadOfShowingEmptyPanels() throws Exception {
    try (HeadlessChromium chromium = HeadlessChromium.start()) {
      chromium.open(admin + "/console#token=wrong-token-0123456789");
      chromium.waitFor("document.body.dataset.state === 'error'", WAIT);
      assertThat(chromium.text("#status")).isEqualTo("Could not load scopes, system, audit, deliveries: the bearer token is not valid");
    }
  }

  @Test
  void aViewerSeesItsScopesOnlyAndIsToldTheRestNeedsAnAdminToken() throws Exception {
    assertThat(pushed(() -> client.pushBlob("formed/viewed", randomBytes(KiB))).status()).isEqualTo(201);
    try (HeadlessChromium chromium = HeadlessChromium.start()) {
      chromium.open(admin + "/console#token=" + VIEWER);
      chromium.waitFor("document.body.dataset.state === 'error'", WAIT);
      assertThat(order(chromium)).isNotEmpty().allMatch(scope -> scope.equals("formed") || scope.toString().startsWith("formed/"));
      assertThat(chromium.text("#status")).contains("Could not load system: ").contains("Could not load audit: ")
          .contains("needs an admin token");
    }
  }

  @Test
  void scopesAreDrawnClosestToTheirHardLimitFirstReservedIncludedUnlimitedLast() throws Exception {
    put("near", new JsonObject().put("storage_hard", 100 * KiB));
    put("half", new JsonObject().put("storage_hard", 200 * KiB).put("storage_soft", "25%"));
    put("far", new JsonObject().put("storage_hard", "10MiB"));
    for (String namespace : List.of("near", "half", "far", "nolimit")) {
      var pushed = pushed(() -> client.pushBlob(namespace + "/app", randomBytes(90 * KiB)));
      assertThat(pushed.status()).as("%s: %s", namespace, pushed.body()).isEqualTo(201);
    }
    // A count at its hard limit is as full as storage at its own: counted's next new repository is refused.
    put("counted", new JsonObject().put("repositories_hard", 2).put("manifests_soft", 5));
    for (String repository : List.of("counted/a", "counted/b")) {
      var pushed = pushed(() -> client.pushBlob(repository, randomBytes(KiB)));
      assertThat(pushed.status()).as("%s: %s", repository, pushed.body()).isEqualTo(201);
    }
    // Bytes in flight count as taken: an open upload's reserved chunk puts half ahead of near's 90%.
    String upload = client.startUpload("half/app").header("Location").orElseThrow();
    assertThat(client.send("PATCH", upload, HttpRequest.BodyPublishers.ofByteArray(randomBytes(100 * KiB)), "Content-Type",
        "application/octet-stream").status()).isEqualTo(202);

    try (HeadlessChromium chromium = HeadlessChromium.start()) {
      chromium.open(admin + "/console#token=" + ADMIN);
      chromium.waitFor("document.body.dataset.state === 'rendered'", WAIT);
      List<Object> order = order(chromium);
      assertThat(order).containsSubsequence("counted", "half", "near", "far", "nolimit");
      assertThat(chromium.attribute(".scope[data-scope=\"counted\"]", "class")).contains("full");
      assertThat(chromium.text(".scope[data-scope=\"counted\"] .figures"))
          .isEqualTo("2.0 KiB, no hard storage limit · 2 of 2 repositories · 0 manifests (soft 5)");
      assertThat(order.indexOf("nolimit")).as("unlimited after every limited scope: %s", order).isGreaterThan(order.indexOf("far"));
      assertThat(chromium.attribute(".scope[data-scope=\"half\"]", "class")).contains("over-soft");
      assertThat(chromium.text(".scope[data-scope=\"half\"] .figures"))
          .isEqualTo("95% · 90.0 KiB + 100.0 KiB reserved of 200.0 KiB (soft 50.0 KiB)");
      assertThat(chromium.eval("document.querySelectorAll('.scope[data-scope=\"nolimit\"] .mark').length")).isEqualTo(0);
      // System settings and the read-only state are shown; the delivery log is served, empty (no webhook configured).
      assertThat(chromium.text("#system-state")).contains("Read-only").contains("no").contains("Write ratio100%");
      assertThat(chromium.attribute("#deliveries-panel", "data-state")).isEqualTo("rendered");
      assertThat(chromium.text("#deliveries-message")).isEqualTo("No deliveries yet.");
    }
  }

  // ---- helpers ----------------------------------------------------------------------------------

  /**
   * A push, again while it is refused 503: limits put on a namespace the quota store has not seen leave
   * system usage unknown until the next refresh restores it, and pushes fail closed meanwhile. Only that
   * is waited out.
   */
  private static OciTestClient.Reply pushed(Supplier<OciTestClient.Reply> push) throws Exception {
    return eventuallyGet(WAIT, () -> {
      OciTestClient.Reply reply = push.get();
      assertThat(reply.status()).as("a push while system usage is rebuilt: %s", reply.body()).isNotEqualTo(503);
      return reply;
    });
  }

  private static Skopeo.Result skopeo(Path layout, String tag, String repository) throws Exception {
    return eventuallyGet(WAIT, () -> {
      Skopeo.Result result = Skopeo.copy(layout, tag, proxyHostPort, repository);
      assertThat(result.output()).as("skopeo while system usage is rebuilt").doesNotContain("being rebuilt");
      return result;
    });
  }

  private static List<Object> order(HeadlessChromium chromium) throws Exception {
    return new JsonObject(chromium.attribute("#scopes", "data-rendered")).getJsonArray("order").getList();
  }

  private static void put(String scope, JsonObject limits) throws Exception {
    var put = send("PUT", "/api/v1/limits?scope=" + scope, ADMIN, limits);
    assertThat(put.statusCode()).as(put.body()).isEqualTo(200);
  }

  static HttpResponse<String> send(String method, String path, String token, JsonObject body) throws IOException, InterruptedException {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(admin + path))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body.encode()));
    if (body != null) {
      request.header("Content-Type", "application/json");
    }
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }
}
