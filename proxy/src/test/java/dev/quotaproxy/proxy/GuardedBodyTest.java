package dev.quotaproxy.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.proxy.route.OciError;
import dev.quotaproxy.proxy.quota.ExchangeQuota;
import dev.quotaproxy.proxy.quota.QuotaRules;
import dev.quotaproxy.proxy.support.TestProxy;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * How the proxy takes a guarded push body (see {@code ExchangeQuota#guardsBody}), against an upstream whose
 * answers to {@code Expect: 100-continue} the test chooses and quota rules that record when they are asked:
 * nothing is decided before the registry asks for the body, nothing of the body moves before the decision,
 * and a client that sends a head and no body holds nothing.
 */
class GuardedBodyTest {
  private static final byte[] BODY = "0123456789".repeat(1000).getBytes(StandardCharsets.US_ASCII);

  private Vertx vertx;
  private HttpServer upstream;
  /** What happened, in order: the upstream's events and the quota rules' calls. */
  private final List<String> events = new CopyOnWriteArrayList<>();
  private final AtomicLong upstreamBodyBytes = new AtomicLong();
  private volatile Consumer<HttpServerRequest> registry;
  private volatile OciError refusal;
  /** How long the quota rules take to decide on an answer (a store call, say). */
  private volatile long answeredAfterMillis;
  /** Completes when the exchange has ended, which the client may learn of a moment before the proxy's bookkeeping. */
  private final java.util.concurrent.CompletableFuture<Integer> ended = new java.util.concurrent.CompletableFuture<>();

  @BeforeEach
  void startUpstream() throws Exception {
    vertx = Vertx.vertx();
    upstream = vertx.createHttpServer(new HttpServerOptions().setHandle100ContinueAutomatically(false))
        .requestHandler(request -> {
          events.add("upstream head " + request.getHeader("Expect"));
          registry.accept(request);
        })
        .listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS);
  }

  @AfterEach
  void stop() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  /** A registry that asks for the body, reads it and answers 201 with its length. */
  private void registryAsksForTheBody(HttpServerRequest request) {
    events.add("upstream 100");
    request.response().writeContinue();
    readAndAnswer(request);
  }

  private void readAndAnswer(HttpServerRequest request) {
    if (request.method() == io.vertx.core.http.HttpMethod.GET) {
      // The proxy asking whether the registry serves the client (see the continue timeout): it does.
      events.add("upstream probe");
      request.response().setStatusCode(404).end();
      return;
    }
    request.handler(piece -> upstreamBodyBytes.addAndGet(piece.length()));
    request.endHandler(v -> {
      events.add("upstream body " + upstreamBodyBytes.get());
      request.response().setStatusCode(201).end();
    });
    request.exceptionHandler(e -> events.add("upstream reset"));
  }

  private TestProxy proxy(String... flags) {
    QuotaRules rules = exchange -> new ExchangeQuota() {
      @Override
      public boolean guardsBody() {
        return true;
      }

      @Override
      public Future<Admission> admit() {
        events.add("admit");
        return Future.succeededFuture(Admission.FORWARD);
      }

      @Override
      public Future<Admission> decide() {
        events.add("decide");
        return Future.succeededFuture(refusal == null ? Admission.FORWARD : Admission.refuse(refusal));
      }

      @Override
      public Future<Answer> answered(int status, MultiMap headers) {
        events.add("answered " + status);
        if (answeredAfterMillis == 0) {
          return Future.succeededFuture(Answer.RELAY);
        }
        io.vertx.core.Promise<Answer> later = io.vertx.core.Promise.promise();
        vertx.setTimer(answeredAfterMillis, id -> later.complete(Answer.RELAY));
        return later.future();
      }

      @Override
      public void ended(int status, long bytesIn, long bytesOut) {
        events.add("ended " + status);
        ended.complete(status);
      }
    };
    return TestProxy.start(vertx, "http://127.0.0.1:" + upstream.actualPort(), rules, flags);
  }

  @Test
  void theDecisionWaitsForTheRegistryToAskForTheBody() throws Exception {
    registry = this::registryAsksForTheBody;
    TestProxy proxy = proxy();

    String answer = exchange(proxy, head(BODY.length, false), BODY);

    assertThat(statusOf(answer)).isEqualTo(201);
    assertThat(ended.get(10, TimeUnit.SECONDS)).isEqualTo(201);
    assertThat(events).containsSubsequence("admit", "upstream head 100-continue", "upstream 100", "decide",
        "upstream body " + BODY.length, "answered 201", "ended 201");
  }

  @Test
  void aRegistryThatAnswersBeforeAskingIsRelayedAndNothingIsDecided() throws Exception {
    registry = request -> request.response().setStatusCode(401).putHeader("WWW-Authenticate", "Basic realm=\"test\"")
        .putHeader("Content-Type", "application/json")
        .end("{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}");
    TestProxy proxy = proxy();

    String answer = exchange(proxy, head(BODY.length, false), BODY);

    assertThat(statusOf(answer)).isEqualTo(401);
    assertThat(answer).contains("WWW-Authenticate: Basic realm=\"test\"").contains("authentication required");
    assertThat(events).doesNotContain("decide").contains("answered 401");
    assertThat(upstreamBodyBytes.get()).isZero();
  }

  @Test
  void anAnswerBeforeTheBodyIsRelayedWholeThoughTheRegistryClosesRightAfterIt() throws Exception {
    // As Go's server does when it answers without reading a body it was asked to wait for.
    registry = request -> {
      request.response().setStatusCode(401).putHeader("Content-Type", "application/json")
          .end("{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}");
      request.connection().close();
    };
    answeredAfterMillis = 200;
    TestProxy proxy = proxy();

    String answer = exchange(proxy, head(BODY.length, false), BODY);

    assertThat(statusOf(answer)).isEqualTo(401);
    assertThat(answer).contains("authentication required");
  }

  @Test
  void aRegistryThatNeverAsksGetsTheBodyAfterTheContinueTimeout() throws Exception {
    registry = this::readAndAnswer;
    TestProxy proxy = proxy("--upstream.continue-timeout", "200ms");

    String answer = exchange(proxy, head(BODY.length, false), BODY);

    assertThat(statusOf(answer)).isEqualTo(201);
    assertThat(events).containsSubsequence("upstream head 100-continue", "upstream probe", "decide", "upstream body " + BODY.length);
  }

  @Test
  void aRegistryThatNeitherAsksNorAnswersIsAskedWhetherItServesTheClientBeforeAnyDecision() throws Exception {
    // CNCF distribution refusing a client with a small body: it reads the body it will drop before it answers.
    registry = request -> {
      if (request.method() == io.vertx.core.http.HttpMethod.GET && request.path().equals("/v2/acme/app/tags/list")) {
        events.add("upstream probe");
        request.response().setStatusCode(401).putHeader("WWW-Authenticate", "Basic realm=\"test\"")
            .putHeader("Content-Type", "application/json")
            .end("{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}");
      }
    };
    TestProxy proxy = proxy("--upstream.continue-timeout", "200ms");

    String answer = exchange(proxy, head(BODY.length, false), BODY);

    assertThat(statusOf(answer)).isEqualTo(401);
    assertThat(answer).contains("WWW-Authenticate: Basic realm=\"test\"").contains("authentication required");
    assertThat(ended.get(10, TimeUnit.SECONDS)).isEqualTo(401);
    assertThat(events).contains("upstream probe").doesNotContain("decide");
    assertThat(upstreamBodyBytes.get()).isZero();
  }

  @Test
  void aRefusalSendsNoByteOfTheBodyUpstream() throws Exception {
    registry = this::registryAsksForTheBody;
    refusal = new OciError(403, "DENIED", "quota exceeded: test", Map.of("scope", "acme"), 0);
    TestProxy proxy = proxy();

    String answer = exchange(proxy, head(BODY.length, false), BODY);

    assertThat(statusOf(answer)).isEqualTo(403);
    assertThat(answer).contains("quota exceeded: test");
    assertThat(upstreamBodyBytes.get()).isZero();
    assertThat(events).contains("decide").doesNotContain("upstream body " + BODY.length);
  }

  @Test
  void aClientExpectingContinueGetsItOnlyAfterTheDecision() throws Exception {
    registry = this::registryAsksForTheBody;
    TestProxy proxy = proxy();

    try (Socket socket = connect(proxy)) {
      socket.getOutputStream().write(head(BODY.length, true).getBytes(StandardCharsets.US_ASCII));
      String interim = readUntilBlankLine(socket.getInputStream());
      assertThat(interim).startsWith("HTTP/1.1 100");
      assertThat(events).containsSubsequence("upstream head 100-continue", "decide");
      socket.getOutputStream().write(BODY);
      assertThat(statusOf(readUntilBlankLine(socket.getInputStream()))).isEqualTo(201);
    }
    assertThat(upstreamBodyBytes.get()).isEqualTo(BODY.length);
  }

  @Test
  void aHeadWithoutABodyReachesNoOneAndIsCutAtTheFirstByteDeadline() throws Exception {
    registry = this::registryAsksForTheBody;
    TestProxy proxy = proxy("--quota.body-first-byte-timeout", "300ms");

    try (Socket socket = connect(proxy)) {
      socket.getOutputStream().write(head(2 * 1024 * 1024, false).getBytes(StandardCharsets.US_ASCII));
      String answer = readAll(socket.getInputStream());
      assertThat(statusOf(answer)).isEqualTo(408);
    }
    assertThat(ended.get(10, TimeUnit.SECONDS)).isEqualTo(408);
    assertThat(events).as("neither the quota rules nor the registry heard of it").containsExactly("ended 408");
  }

  @Test
  void aClientThatStopsAfterContinueIsCutAtTheFirstByteDeadline() throws Exception {
    registry = this::registryAsksForTheBody;
    TestProxy proxy = proxy("--quota.body-first-byte-timeout", "300ms");

    try (Socket socket = connect(proxy)) {
      socket.getOutputStream().write(head(BODY.length, true).getBytes(StandardCharsets.US_ASCII));
      assertThat(readUntilBlankLine(socket.getInputStream())).startsWith("HTTP/1.1 100");
      assertThat(statusOf(readAll(socket.getInputStream()))).isEqualTo(408);
    }
    assertThat(ended.get(10, TimeUnit.SECONDS)).isEqualTo(408);
    assertThat(events).containsSubsequence("decide", "ended 408");
    assertThat(upstreamBodyBytes.get()).isZero();
  }

  private static String head(long length, boolean expectContinue) {
    return "PATCH /v2/acme/app/blobs/uploads/7d705121-ced7-4ad4-bbd1-4db41c399d5b HTTP/1.1\r\n"
        + "Host: registry.test\r\n"
        + "Content-Type: application/octet-stream\r\n"
        + "Content-Length: " + length + "\r\n"
        + (expectContinue ? "Expect: 100-continue\r\n" : "")
        + "\r\n";
  }

  private static Socket connect(TestProxy proxy) throws IOException {
    Socket socket = new Socket("127.0.0.1", proxy.port());
    socket.setSoTimeout(10_000);
    return socket;
  }

  /** Sends a head and a body on a fresh connection and reads the answer's head. */
  private static String exchange(TestProxy proxy, String head, byte[] body) throws IOException {
    try (Socket socket = connect(proxy)) {
      OutputStream out = socket.getOutputStream();
      out.write(head.getBytes(StandardCharsets.US_ASCII));
      out.write(body);
      out.flush();
      return readAll(socket.getInputStream());
    }
  }

  private static String readUntilBlankLine(InputStream in) throws IOException {
    ByteArrayOutputStream read = new ByteArrayOutputStream();
    while (!read.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
      int next = in.read();
      if (next < 0) {
        break;
      }
      read.write(next);
    }
    return read.toString(StandardCharsets.US_ASCII);
  }

  /** Everything until the proxy closes the connection or stops sending for a second. */
  private static String readAll(InputStream in) throws IOException {
    ByteArrayOutputStream read = new ByteArrayOutputStream();
    byte[] buffer = new byte[8192];
    try {
      for (int n; (n = in.read(buffer)) >= 0;) {
        read.write(buffer, 0, n);
        String text = read.toString(StandardCharsets.US_ASCII);
        int headEnd = text.indexOf("\r\n\r\n");
        if (headEnd >= 0 && !text.startsWith("HTTP/1.1 100") && complete(text, headEnd)) {
          break;
        }
      }
    } catch (SocketTimeoutException | java.net.SocketException ended) {
      // What was read is the answer.
    }
    return read.toString(StandardCharsets.US_ASCII);
  }

  private static boolean complete(String text, int headEnd) {
    java.util.regex.Matcher length = java.util.regex.Pattern.compile("(?i)content-length: (\\d+)").matcher(text.substring(0, headEnd));
    return length.find() && text.length() - headEnd - 4 >= Integer.parseInt(length.group(1));
  }

  /** The final status of an answer, past any 100 Continue. */
  private static int statusOf(String answer) {
    String text = answer;
    while (text.startsWith("HTTP/1.1 100")) {
      text = text.substring(text.indexOf("\r\n\r\n") + 4);
    }
    return text.length() < 12 ? 0 : Integer.parseInt(text.substring(9, 12));
  }
}
