package dev.quotaproxy.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.proxy.support.RawHttp;
import dev.quotaproxy.proxy.support.RawHttp.Reply;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The request body as an exchange takes it: the head's facts are pure; the rest runs in a Vert.x server
 * (100-continue answered by the handler, as the proxy's is), spoken to byte by byte.
 */
class ClientBodyTest {
  private static final long FIRST_BYTE_MILLIS = 300;
  private static final byte[] HELLO = "hello, registry".getBytes(StandardCharsets.UTF_8);

  private static Vertx vertx;
  private static String origin;
  /** What the test's server does with each request and its body. */
  private static volatile BiConsumer<HttpServerRequest, ClientBody> handler;
  private static volatile long noFirstByte;

  @BeforeAll
  static void start() throws Exception {
    vertx = Vertx.vertx();
    int port = vertx.createHttpServer(new HttpServerOptions().setHandle100ContinueAutomatically(false))
        .requestHandler(request -> {
          request.pause();
          IdleWatchdog watchdog = new IdleWatchdog(vertx, 60_000, () -> {});
          ClientBody body = new ClientBody(vertx, request, watchdog, FIRST_BYTE_MILLIS, millis -> {
            noFirstByte = millis;
            request.response().setStatusCode(408).end();
          });
          handler.accept(request, body);
        })
        .listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS).actualPort();
    origin = "http://127.0.0.1:" + port;
  }

  @AfterAll
  static void stop() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  @BeforeEach
  void reset() {
    noFirstByte = -1;
  }

  @ParameterizedTest(name = "Content-Length [{0}], Transfer-Encoding [{1}] -> length {2}, chunked {3}, body {4}")
  @CsvSource(nullValues = "null", value = {
      "5,     null,          5,  false, true",
      "' 7 ', null,          7,  false, true",
      "0,     null,          0,  false, false",
      "null,  null,          -1, false, false",
      "abc,   null,          -1, false, false",
      "5,     chunked,       -1, true,  true", // chunked overrides the length
      "null,  Chunked,       -1, true,  true",
      "null,  'gzip, chunked', -1, true, true",
      "null,  gzip,          -1, false, false",
  })
  void theHeadSaysWhetherThereIsABodyAndHowLong(String contentLength, String transferEncoding, long length, boolean chunked,
      boolean present) {
    MultiMap head = MultiMap.caseInsensitiveMultiMap();
    if (contentLength != null) {
      head.add("Content-Length", contentLength);
    }
    if (transferEncoding != null) {
      head.add("Transfer-Encoding", transferEncoding);
    }

    assertThat(ClientBody.contentLength(head)).isEqualTo(length);
    assertThat(ClientBody.chunked(head)).isEqualTo(chunked);
    assertThat(ClientBody.present(head)).isEqualTo(present);
  }

  @Test
  void onlyA100ContinueExpectationIsOne() {
    assertThat(ClientBody.expectsContinue(MultiMap.caseInsensitiveMultiMap().add("Expect", "100-Continue"))).isTrue();
    assertThat(ClientBody.expectsContinue(MultiMap.caseInsensitiveMultiMap().add("Expect", "200-ok"))).isFalse();
    assertThat(ClientBody.expectsContinue(MultiMap.caseInsensitiveMultiMap())).isFalse();
  }

  @Test
  void readsTheWholeBodyOnceItHasAnswered100Continue() throws Exception {
    handler = (request, body) -> body.readWhole(1024, Duration.ofSeconds(5))
        .onComplete(read -> request.response().end(read.succeeded() ? "read " + read.result() : "failed " + read.cause()));

    try (RawHttp client = RawHttp.connect(origin)) {
      client.head("PUT", "/v2/a/manifests/1", "Content-Length", Integer.toString(HELLO.length), "Expect", "100-continue");

      assertThat(client.readInterim(Duration.ofSeconds(5)).status()).isEqualTo(100);
      client.write(HELLO);
      assertThat(client.read(Duration.ofSeconds(5)).text()).isEqualTo("read hello, registry");
    }
  }

  @Test
  void aBodyPastTheLimitFailsTheReadAtOnce() throws Exception {
    handler = (request, body) -> body.readWhole(8, Duration.ofSeconds(5))
        .onComplete(read -> request.response().end(read.succeeded() ? "read " + read.result() : read.cause().getClass().getSimpleName()));

    Reply reply = RawHttp.exchange(origin, "PUT", "/v2/a/manifests/1", HELLO);

    assertThat(reply.text()).isEqualTo("BodyTooLargeException");
  }

  @Test
  void aBodyThatDoesNotArriveWholeInTimeFailsTheRead() throws Exception {
    handler = (request, body) -> body.readWhole(1024, Duration.ofMillis(200))
        .onComplete(read -> request.response().end(read.succeeded() ? "read " + read.result() : read.cause().getClass().getSimpleName()));

    try (RawHttp client = RawHttp.connect(origin)) {
      client.head("PUT", "/v2/a/manifests/1", "Content-Length", Integer.toString(HELLO.length));
      client.write(new byte[] {'h'});

      assertThat(client.read(Duration.ofSeconds(5)).text()).isEqualTo("BodyTimeoutException");
    }
  }

  @Test
  void aBodyHeldByItsFirstPieceIsReadWhole() throws Exception {
    handler = (request, body) -> body.takeFirstPiece(() -> body.readWhole(1024, Duration.ofSeconds(5))
        .onComplete(read -> request.response().end(read.succeeded() ? "read " + read.result() : "failed " + read.cause())));

    try (RawHttp client = RawHttp.connect(origin)) {
      client.head("PUT", "/v2/a/blobs/uploads/u", "Content-Length", Integer.toString(HELLO.length));
      client.write(new byte[] {'h'});
      client.write(Arrays.copyOfRange(HELLO, 1, HELLO.length));

      assertThat(client.read(Duration.ofSeconds(5)).text()).isEqualTo("read hello, registry");
    }
  }

  @Test
  void aClientThatSendsNoBodyWithinTheDeadlineIsCutOff() throws Exception {
    handler = (request, body) -> body.startFirstByteDeadline();

    try (RawHttp client = RawHttp.connect(origin)) {
      client.head("PUT", "/v2/a/blobs/uploads/u", "Content-Length", "10");

      assertThat(client.read(Duration.ofSeconds(5)).status()).isEqualTo(408);
      assertThat(noFirstByte).isEqualTo(FIRST_BYTE_MILLIS);
    }
  }

  @Test
  void theFirstByteEndsTheDeadline() throws Exception {
    handler = (request, body) -> {
      body.startFirstByteDeadline();
      body.stream().handler(piece -> {});
      body.stream().resume();
      vertx.setTimer(3 * FIRST_BYTE_MILLIS, id -> request.response().end("bytes " + body.bytes()));
    };

    try (RawHttp client = RawHttp.connect(origin)) {
      client.head("PUT", "/v2/a/blobs/uploads/u", "Content-Length", "10");
      client.write(new byte[] {'h'});

      Reply reply = client.read(Duration.ofSeconds(5));
      assertThat(reply.text()).isEqualTo("bytes 1");
      assertThat(noFirstByte).isEqualTo(-1);
    }
  }

  @Test
  void aBodyNobodyWillReadIsDroppedThenTheConnectionClosesWithoutLosingTheAnswer() throws Exception {
    handler = (request, body) -> request.response().setStatusCode(401).putHeader("Connection", "close").end("no")
        .onComplete(sent -> body.dropThenClose());

    try (RawHttp client = RawHttp.connect(origin)) {
      client.head("PUT", "/v2/a/blobs/uploads/u", "Content-Length", "200000");
      Reply reply = client.read(Duration.ofSeconds(5));
      client.write(new byte[100_000]);

      assertThat(reply.status()).isEqualTo(401);
      assertThat(reply.text()).isEqualTo("no");
      assertThat(client.awaitEnding(Duration.ofMillis(300)).silent()).as("open while the body still comes").isTrue();
      client.write(new byte[100_000]);
      // Closed once the body is in, well before the linger would have closed it.
      assertThat(client.awaitEnding(Duration.ofSeconds(3)).closed()).isTrue();
    }
  }
}
