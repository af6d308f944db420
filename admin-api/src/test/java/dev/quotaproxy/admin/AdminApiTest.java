package dev.quotaproxy.admin;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.config.AdminTokenConfig;
import dev.quotaproxy.config.AdminTokenConfig.Role;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.openapi.router.OpenAPIRoute;
import io.vertx.ext.web.openapi.router.RouterBuilder;
import io.vertx.core.buffer.Buffer;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The plumbing every endpoint stands on: the contract loads, tokens are checked before anything else,
 * requests are validated against the contract, and every refusal is a JSON error. The operations here
 * answer with the caller they saw; the real handlers are tested with real stores in the proxy module.
 */
class AdminApiTest {
  private static final String ADMIN = "admin-token-0123456789";
  private static final String VIEWER = "viewer-token-0123456789";

  static Vertx vertx;
  static HttpServer server;
  static WebClient client;

  /** Answers every operation with who called it and which operation it was. */
  static final AdminRoutes ECHO = new AdminRoutes() {
    @Override
    public void operations(RouterBuilder builder) {
      for (OpenAPIRoute route : builder.getRoutes()) {
        String operation = route.getOperation().getOperationId();
        route.addHandler(ctx -> ctx.json(new JsonObject().put("operation", operation).put("caller", Caller.of(ctx).name())));
      }
    }
  };

  @BeforeAll
  static void start() throws Exception {
    vertx = Vertx.vertx();
    AdminTokens tokens = new AdminTokens(List.of(
        new AdminTokenConfig("ops", ADMIN, Role.ADMIN, List.of()),
        new AdminTokenConfig("acme-view", VIEWER, Role.VIEWER, List.of("acme"))));
    var router = AdminApi.router(vertx, tokens, List.of(ECHO)).await(20, TimeUnit.SECONDS);
    server = vertx.createHttpServer().requestHandler(router).listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS);
    client = WebClient.create(vertx);
  }

  @AfterAll
  static void stop() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  private static HttpResponse<Buffer> get(String path, String token) throws Exception {
    var request = client.get(server.actualPort(), "127.0.0.1", path);
    if (token != null) {
      request.bearerTokenAuthentication(token);
    }
    return request.send().await(10, TimeUnit.SECONDS);
  }

  @Test
  void aValidTokenReachesTheOperation() throws Exception {
    var response = get("/api/v1/limits?scope=acme", ADMIN);
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.bodyAsJsonObject()).isEqualTo(new JsonObject().put("operation", "getLimits").put("caller", "ops"));
  }

  @Test
  void withoutATokenTheAnswerIs401WithAChallenge() throws Exception {
    var response = get("/api/v1/limits?scope=acme", null);
    assertThat(response.statusCode()).isEqualTo(401);
    assertThat(response.getHeader("WWW-Authenticate")).startsWith("Bearer");
    assertThat(response.bodyAsJsonObject().getJsonObject("error").getString("message")).contains("Authorization: Bearer");
  }

  @Test
  void aWrongTokenIs401EvenWhenTheRequestIsAlsoMalformed() throws Exception {
    assertThat(get("/api/v1/limits?scope=acme", ADMIN + "x").statusCode()).isEqualTo(401);
    assertThat(get("/api/v1/limits", "nonsense").statusCode()).isEqualTo(401);
    var basic = client.get(server.actualPort(), "127.0.0.1", "/api/v1/system").basicAuthentication("ops", ADMIN)
        .send().await(10, TimeUnit.SECONDS);
    assertThat(basic.statusCode()).as("only bearer tokens").isEqualTo(401);
  }

  @Test
  void aRequestTheContractRefusesIs400WithTheReason() throws Exception {
    var missing = get("/api/v1/limits", ADMIN);
    assertThat(missing.statusCode()).isEqualTo(400);
    assertThat(missing.bodyAsJsonObject().getJsonObject("error").getString("message")).contains("scope");
    var outOfRange = get("/api/v1/scopes?limit=0", VIEWER);
    assertThat(outOfRange.statusCode()).isEqualTo(400);
    var body = client.put(server.actualPort(), "127.0.0.1", "/api/v1/system").bearerTokenAuthentication(ADMIN)
        .sendJsonObject(new JsonObject().put("no_such_setting", 1)).await(10, TimeUnit.SECONDS);
    assertThat(body.statusCode()).isEqualTo(400);
    assertThat(body.bodyAsJsonObject().getJsonObject("error").getString("code")).isEqualTo("BAD_REQUEST");
  }

  @Test
  void unknownPathsAndMethodsAreJsonErrors() throws Exception {
    var unknown = get("/api/v1/nothing-here", ADMIN);
    assertThat(unknown.statusCode()).isEqualTo(404);
    assertThat(unknown.bodyAsJsonObject().getJsonObject("error").getString("message")).contains("/openapi.yaml");
    var wrongMethod = client.patch(server.actualPort(), "127.0.0.1", "/api/v1/limits?scope=acme").bearerTokenAuthentication(ADMIN)
        .send().await(10, TimeUnit.SECONDS);
    assertThat(wrongMethod.statusCode()).isEqualTo(405);
    assertThat(wrongMethod.bodyAsJsonObject().getJsonObject("error").getString("code")).isEqualTo("METHOD_NOT_ALLOWED");
  }

  @Test
  void theContractIsServedWithoutAToken() throws Exception {
    var contract = get("/openapi.yaml", null);
    assertThat(contract.statusCode()).isEqualTo(200);
    assertThat(contract.bodyAsString()).startsWith("openapi: 3.1.0");
  }

  @Test
  void aContractOperationWithoutAHandlerIsListedAndAnswers501() throws Exception {
    assertThat(AdminApi.unimplemented(vertx, List.of(ECHO)).await(20, TimeUnit.SECONDS)).isEmpty();
    assertThat(AdminApi.unimplemented(vertx, List.of()).await(20, TimeUnit.SECONDS)).contains("getLimits", "putSystem");
    var router = AdminApi.router(vertx, new AdminTokens(List.of(new AdminTokenConfig("ops", ADMIN, Role.ADMIN, List.of()))), List.of())
        .await(20, TimeUnit.SECONDS);
    var bare = vertx.createHttpServer().requestHandler(router).listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS);
    try {
      var response = client.get(bare.actualPort(), "127.0.0.1", "/api/v1/system").bearerTokenAuthentication(ADMIN)
          .send().await(10, TimeUnit.SECONDS);
      assertThat(response.statusCode()).isEqualTo(501);
    } finally {
      bare.close().await(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void viewerGrantsCoverTheScopeAndWhatIsUnderItOnly() {
    Caller viewer = new Caller("v", Role.VIEWER, List.of("acme", "globex/team"));
    assertThat(viewer.mayRead("acme")).isTrue();
    assertThat(viewer.mayRead("acme/team/app")).isTrue();
    assertThat(viewer.mayRead("acmecorp")).isFalse();
    assertThat(viewer.mayRead("globex")).isFalse();
    assertThat(viewer.mayRead("globex/team/x")).isTrue();
    assertThat(new Caller("a", Role.ADMIN, List.of()).mayRead("anything")).isTrue();
  }

  @Test
  void bearerHeadersAreParsedAsRfc9110Says() {
    assertThat(AdminTokens.bearer("Bearer abc")).hasValue("abc");
    assertThat(AdminTokens.bearer("bearer   abc ")).hasValue("abc");
    assertThat(AdminTokens.bearer("Basic abc")).isEmpty();
    assertThat(AdminTokens.bearer("Bearer ")).isEmpty();
    assertThat(AdminTokens.bearer(null)).isEmpty();
  }
}
