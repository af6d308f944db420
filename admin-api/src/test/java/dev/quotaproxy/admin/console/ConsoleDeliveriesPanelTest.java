package dev.quotaproxy.admin.console;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.admin.AdminApi;
import dev.quotaproxy.admin.AdminRoutes;
import dev.quotaproxy.admin.AdminTokens;
import dev.quotaproxy.config.AdminTokenConfig;
import dev.quotaproxy.config.AdminTokenConfig.Role;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.openapi.router.RouterBuilder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The console's deliveries panel where the proxy serves {@code GET /api/v1/webhooks/deliveries} (the
 * webhooks part, not on this branch): here a stand-in answers with the documented fields, and headless
 * Chromium ({@code --dump-dom}) shows them. Where the endpoint is missing, AdminConsoleTest sees "not
 * available".
 */
class ConsoleDeliveriesPanelTest {
  private static final String ADMIN = "admin-token-0123456789";
  static final Vertx vertx = Vertx.vertx();
  static HttpServer server;

  /** Answers like the webhooks part; a plain route, so it needs no operation in this branch's contract. */
  static final class StandInDeliveries implements AdminRoutes {
    @Override
    public void operations(RouterBuilder builder) {}

    @Override
    public void plain(Router router) {
      router.get("/api/v1/webhooks/deliveries").handler(ctx -> ctx.json(new JsonObject().put("total", 1).put("offset", 0).put("limit", 20)
          .put("deliveries", new JsonArray().add(new JsonObject().put("id", 7).put("type", "QUOTA_EXCEEDED").put("scope", "acme")
              .put("occurred_at", "2026-12-07T08:00:00Z").put("endpoint", "billing").put("url", "https://hooks.example/q")
              .put("state", "failed").put("attempts", 3).put("last_status", 500).put("last_error", "receiver answered 500")))));
    }
  }

  @BeforeAll
  static void start() throws Exception {
    AdminTokens tokens = new AdminTokens(List.of(new AdminTokenConfig("ops", ADMIN, Role.ADMIN, List.of())));
    Router router = AdminApi.router(vertx, tokens, List.of(new ConsoleRoutes(), new StandInDeliveries())).await(20, TimeUnit.SECONDS);
    server = vertx.createHttpServer().requestHandler(router).listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS);
  }

  @AfterAll
  static void stop() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  @Test
  void deliveriesAreListedWithTheReceiversLastAnswer() throws Exception {
    Path chromium = Path.of("/usr/bin/chromium");
    boolean installed = Files.isExecutable(chromium);
    if (!installed && "1".equals(System.getenv("REQUIRE_TEST_TOOLS"))) {
      throw new IllegalStateException(chromium + " is required (REQUIRE_TEST_TOOLS=1) but not installed");
    }
    Assumptions.assumeTrue(installed, chromium + " not installed (Debian package chromium); skipping");
    Path profile = Files.createTempDirectory("console-chromium");
    Process process = new ProcessBuilder(chromium.toString(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--user-data-dir=" + profile,
        "--virtual-time-budget=10000", "--dump-dom", "http://127.0.0.1:" + server.actualPort() + "/console#token=" + ADMIN)
        .redirectError(ProcessBuilder.Redirect.DISCARD).start();
    String dom = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("chromium finished").isTrue();

    // The other panels fail here (no limits part is wired); this one stands on its own.
    assertThat(dom).contains("id=\"deliveries-panel\" data-state=\"rendered\"");
    assertThat(dom)
        .contains("<td>QUOTA_EXCEEDED</td><td>acme</td><td>billing</td><td>failed (HTTP 500): receiver answered 500</td><td>3</td>");
    assertThat(dom).contains("1 of 1, newest first");
  }
}
