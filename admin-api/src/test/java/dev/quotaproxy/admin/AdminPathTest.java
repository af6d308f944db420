package dev.quotaproxy.admin;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import dev.quotaproxy.config.AdminTokenConfig;
import dev.quotaproxy.config.AdminTokenConfig.Role;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.net.NetClient;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.openapi.router.OpenAPIRoute;
import io.vertx.ext.web.openapi.router.RouterBuilder;
import io.vertx.openapi.contract.OpenAPIContract;
import io.vertx.openapi.contract.Operation;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.slf4j.LoggerFactory;

/**
 * The admin listener authenticates exactly the path it routes (PRODUCT.md, threat model). Vert.x Web
 * routes a decoded, dot-segment-free path, so {@code /%61pi/v1/system} and {@code //api/v1/system} used
 * to reach getSystem past a token check that read the raw path (and answered 500 when the handler found
 * no caller). Now a path in any form but the routed one is refused with a 400 before a route sees it,
 * every request no public page answers needs a token, and no request answers 5xx or logs an ERROR. The
 * operations here count the requests that reach them.
 */
class AdminPathTest {
  private static final String ADMIN = "admin-token-0123456789";
  private static final String BODY = new JsonObject().put("read_only", true).encode();

  static Vertx vertx;
  static HttpServer server;
  static NetClient net;
  static final AtomicInteger reached = new AtomicInteger();
  static final Queue<ILoggingEvent> errors = new ConcurrentLinkedQueue<>();
  /** Every ERROR logged anywhere (Vert.x Web logs its own through SLF4J), while this class runs. */
  static final AppenderBase<ILoggingEvent> ERRORS = new AppenderBase<>() {
    @Override
    protected void append(ILoggingEvent event) {
      if (event.getLevel().isGreaterOrEqual(Level.ERROR)) {
        errors.add(event);
      }
    }
  };

  /** Counts the requests that reach an operation; public probes like the proxy's MetricsRoutes. */
  static final AdminRoutes COUNTING = new AdminRoutes() {
    @Override
    public void operations(RouterBuilder builder) {
      for (OpenAPIRoute route : builder.getRoutes()) {
        String operation = route.getOperation().getOperationId();
        route.addHandler(ctx -> {
          reached.incrementAndGet();
          ctx.json(new JsonObject().put("operation", operation).put("caller", Caller.of(ctx).name()));
        });
      }
    }

    @Override
    public void plain(Router router) {
      router.get("/metrics").handler(ctx -> ctx.end("quota_proxy_up 1\n"));
      router.get("/healthz").handler(ctx -> ctx.end("ok"));
    }
  };

  @BeforeAll
  static void start() throws Exception {
    rootLogger().addAppender(ERRORS);
    ERRORS.start();
    vertx = Vertx.vertx();
    AdminTokens tokens = new AdminTokens(List.of(new AdminTokenConfig("ops", ADMIN, Role.ADMIN, List.of())));
    var router = AdminApi.router(vertx, tokens, List.of(COUNTING)).await(20, TimeUnit.SECONDS);
    server = vertx.createHttpServer().requestHandler(router).listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS);
    net = vertx.createNetClient();
  }

  @AfterAll
  static void stop() throws Exception {
    rootLogger().detachAppender(ERRORS);
    ERRORS.stop();
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  @BeforeEach
  void reset() {
    reached.set(0);
    errors.clear();
  }

  private static ch.qos.logback.classic.Logger rootLogger() {
    return (ch.qos.logback.classic.Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
  }

  record Reply(int status, String body) {
    JsonObject error() {
      return new JsonObject(body).getJsonObject("error");
    }
  }

  /**
   * Sends {@code target} byte for byte as the request target, over a connection of its own: an HTTP client
   * would normalise or encode it, or read {@code //api/...} as a host name.
   */
  private static Reply send(String method, String target, String token) throws Exception {
    StringBuilder request = new StringBuilder(method).append(' ').append(target).append(" HTTP/1.1\r\n")
        .append("Host: 127.0.0.1\r\nConnection: close\r\n");
    if (token != null) {
      request.append("Authorization: Bearer ").append(token).append("\r\n");
    }
    if (method.equals("PUT") || method.equals("POST")) {
      request.append("Content-Type: application/json\r\nContent-Length: ").append(BODY.length()).append("\r\n\r\n").append(BODY);
    } else {
      request.append("\r\n");
    }
    String response = net.connect(server.actualPort(), "127.0.0.1")
        .compose(socket -> {
          var read = socket.collect(Collectors.reducing(Buffer.buffer(), Buffer::appendBuffer));
          return socket.write(request.toString(), "ISO-8859-1").compose(written -> read);
        })
        .await(10, TimeUnit.SECONDS).toString(StandardCharsets.ISO_8859_1);
    int headEnd = response.indexOf("\r\n\r\n");
    assertThat(headEnd).as("a whole HTTP response to %s %s: %s", method, target, response).isPositive();
    assertThat(response.substring(0, headEnd).toLowerCase(Locale.ROOT)).as("no chunked body to decode").doesNotContain("chunked");
    return new Reply(Integer.parseInt(response.substring(9, 12)), response.substring(headEnd + 4));
  }

  private static String pathOf(String uri) {
    int query = uri.indexOf('?');
    return query < 0 ? uri : uri.substring(0, query);
  }

  private static void assertNoErrorLogged() {
    assertThat(errors).extracting(ILoggingEvent::getFormattedMessage).isEmpty();
  }

  static Stream<Arguments> hostile() {
    List<String> paths = List.of(
        "/%61pi/v1/system", "//api/v1/system", "/api//v1/system", "/./api/v1/system", "/x/../api/v1/system",
        "/API/v1/system", "/api/v1/system/", "/api/v1/%73ystem", "/api%2Fv1/system", "/api%2fv1/system",
        "/api/v1/system/.", "/api/v1/system/x/..", "/%2e/api/v1/system", "/x/%2E%2E/api/v1/system",
        "/healthz/../api/v1/system", "/openapi.yaml/../api/v1/system", "/api/v1/system;x", "/api/v1/system%00",
        "/api\\v1/system", "/api/v1/limits?scope=acme", "/%61pi/v1/limits?scope=acme", "/api/v1/%6cimits?scope=acme",
        "/api/v1/%6Cimits?scope=acme", "//api/v1/limits?scope=acme", "/api/v1/limits/?scope=acme",
        "/api/v1/./limits?scope=acme", "/api/v1/limits?%73cope=acme", "/api/v1/limits?scope=%61cme",
        "/api/v1/limits%3Fscope=acme", "/api/v1/limits?scope=%zz", "/api/v1/limits?scope=%", "/api/v1/groups/%2e%2e",
        "/api/v1/groups/a%2Fb", "/api/v1/groups/%75ni", "/api/v1/groups/uni%+1", "/api/v1/groups/uni%",
        "/api/v1/groups/uni?x=%zz");
    return paths.stream().flatMap(path -> Stream.of("GET", "PUT", "DELETE").map(method -> Arguments.of(method, path)));
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("hostile")
  void withoutATokenAHostilePathIs400Or401AndReachesNoHandler(String method, String uri) throws Exception {
    Reply reply = send(method, uri, null);
    assertThat(reply.status()).isIn(400, 401);
    assertThat(reply.error().getInteger("status")).isEqualTo(reply.status());
    assertThat(reached).hasValue(0);
    assertNoErrorLogged();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("hostile")
  void withATokenAPathIsServedOnlyInTheFormItIsRouted(String method, String uri) throws Exception {
    Reply reply = send(method, uri, ADMIN);
    assertThat(reply.status()).isLessThan(500);
    if (CanonicalPath.problem(pathOf(uri)) != null) {
      assertThat(reply.status()).isEqualTo(400);
      assertThat(reached).hasValue(0);
    }
    assertNoErrorLogged();
  }

  @Test
  void theIssuesPathsAreRefusedWithWhatToFix() throws Exception {
    Reply encoded = send("GET", "/%61pi/v1/system", null);
    assertThat(encoded.status()).isEqualTo(400);
    assertThat(encoded.error().getString("code")).isEqualTo("BAD_REQUEST");
    assertThat(encoded.error().getString("message")).contains("%61");
    Reply doubled = send("GET", "//api/v1/system", ADMIN);
    assertThat(doubled.status()).isEqualTo(400);
    assertThat(doubled.error().getString("message")).contains("//");
    assertThat(send("GET", "/api/v1/limits?scope=%zz", ADMIN).error().getString("message")).contains("query string");
    assertThat(reached).hasValue(0);
    assertNoErrorLogged();
  }

  @Test
  void canonicalPathsWorkWithAToken() throws Exception {
    assertThat(send("GET", "/api/v1/system", ADMIN).body()).contains("getSystem", "ops");
    assertThat(send("PUT", "/api/v1/system", ADMIN).body()).contains("putSystem");
    assertThat(send("GET", "/api/v1/limits?scope=acme", ADMIN).body()).contains("getLimits");
    assertThat(send("DELETE", "/api/v1/limits?scope=acme", ADMIN).body()).contains("deleteLimits");
    assertThat(send("GET", "/api/v1/groups/uni.v2", ADMIN).body()).contains("getGroup");
    // Routed as the path without the slash, and behind the same token.
    assertThat(send("GET", "/api/v1/system/", ADMIN).body()).contains("getSystem");
    assertThat(send("GET", "/api/v1/limits?%73cope=%61cme", ADMIN).body()).contains("getLimits");
    assertThat(reached).hasValue(7);
    assertNoErrorLogged();
  }

  @Test
  void publicPagesNeedNoTokenAndEverythingElseDoes() throws Exception {
    Reply contract = send("GET", "/openapi.yaml", null);
    assertThat(contract.status()).isEqualTo(200);
    assertThat(contract.body()).startsWith("openapi: 3.1.0");
    assertThat(send("GET", "/healthz", null).status()).isEqualTo(200);
    assertThat(send("GET", "/metrics", null).body()).contains("quota_proxy_up");
    assertThat(send("GET", "/%68ealthz", null).status()).as("public, but only under its own name").isEqualTo(400);
    assertThat(send("GET", "/nothing-here", null).status()).isEqualTo(401);
    assertThat(send("POST", "/healthz", null).status()).isEqualTo(401);
    assertThat(send("GET", "/nothing-here", ADMIN).status()).isEqualTo(404);
    assertNoErrorLogged();
  }

  /**
   * Real API paths (every operation of the contract), each bent by one to three random changes: a character
   * percent-encoded (a separator too), a slash doubled, a dot segment (plain or encoded) inserted, a trailing
   * slash, a segment in capitals. Without a token every variant is a 400 or a 401 and reaches nothing; with
   * one, none is a 5xx and every non-canonical one is a 400. Fixed seed: a failure names its variant and recurs.
   */
  @Test
  void generatedVariantsOfRealPathsFollowTheSameRule() throws Exception {
    OpenAPIContract contract = OpenAPIContract.from(vertx, AdminApi.CONTRACT).await(20, TimeUnit.SECONDS);
    List<String> paths = contract.operations().stream().map(Operation::getOpenAPIPath).distinct()
        .map(path -> path.replace("{group}", "uni")).toList();
    List<String> methods = List.of("GET", "PUT", "DELETE", "POST", "PATCH");
    Random random = new Random(9_2024L);
    int refusedAsNonCanonical = 0;
    int variants = 250;
    for (int i = 0; i < variants; i++) {
      String path = paths.get(random.nextInt(paths.size()));
      for (int change = 0, changes = 1 + random.nextInt(3); change < changes; change++) {
        path = bend(path, random);
      }
      String uri = path + "?scope=acme";
      String method = methods.get(random.nextInt(methods.size()));
      String variant = method + " " + uri;

      Reply anonymous = send(method, uri, null);
      assertThat(anonymous.status()).as(variant).isIn(400, 401);
      assertThat(reached).as(variant).hasValue(0);

      Reply admin = send(method, uri, ADMIN);
      assertThat(admin.status()).as(variant).isLessThan(500);
      if (CanonicalPath.problem(path) != null) {
        refusedAsNonCanonical++;
        assertThat(admin.status()).as(variant).isEqualTo(400);
        assertThat(reached).as(variant).hasValue(0);
      }
      reached.set(0);
    }
    assertThat(refusedAsNonCanonical).as("most variants are non-canonical").isGreaterThan(variants / 2);
    assertNoErrorLogged();
  }

  private static String bend(String path, Random random) {
    List<Integer> slashes = new ArrayList<>();
    for (int i = 0; i < path.length(); i++) {
      if (path.charAt(i) == '/') {
        slashes.add(i);
      }
    }
    int slash = slashes.get(random.nextInt(slashes.size()));
    switch (random.nextInt(5)) {
      case 0 -> {
        int at = random.nextInt(path.length());
        String hex = String.format("%%%02X", (int) path.charAt(at));
        return path.substring(0, at) + (random.nextBoolean() ? hex : hex.toLowerCase(Locale.ROOT)) + path.substring(at + 1);
      }
      case 1 -> {
        return path.substring(0, slash) + "/" + path.substring(slash);
      }
      case 2 -> {
        String[] dots = {"/.", "/..", "/x/..", "/%2e", "/%2E%2e", "/x/%2e%2E"};
        return path.substring(0, slash) + dots[random.nextInt(dots.length)] + path.substring(slash);
      }
      case 3 -> {
        return path + "/";
      }
      default -> {
        int end = path.indexOf('/', slash + 1);
        end = end < 0 ? path.length() : end;
        return path.substring(0, slash) + path.substring(slash, end).toUpperCase(Locale.ROOT) + path.substring(end);
      }
    }
  }
}
