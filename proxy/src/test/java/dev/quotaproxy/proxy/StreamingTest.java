package dev.quotaproxy.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.quotaproxy.proxy.support.TestProxy;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.streams.WriteStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Bodies stream through whole and in order, under backpressure, and a client that leaves takes the
 * upstream connection down with it. The upstream is a Vert.x server the test controls byte by byte.
 */
class StreamingTest {
  private static final int MiB = 1024 * 1024;
  private static final String REFUSAL = "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}";

  private Vertx vertx;
  private HttpClient client;
  private TestProxy proxy;
  private String upstreamOrigin;
  private final AtomicLong sent = new AtomicLong();
  private final Promise<Void> upstreamConnectionClosed = Promise.promise();
  private final AtomicBoolean upstreamSawRequestEnd = new AtomicBoolean();

  @BeforeEach
  void start() throws Exception {
    // Native epoll, as the proxy runs: downloads of 1 MiB or more are then spliced, not copied.
    vertx = Vertx.vertx(new VertxOptions().setPreferNativeTransport(true));
    HttpServer upstream = vertx.createHttpServer().requestHandler(this::upstream);
    upstreamOrigin = "http://127.0.0.1:" + upstream.listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS).actualPort();
    proxy = TestProxy.start(vertx, upstreamOrigin);
    client = vertx.createHttpClient();
  }

  @AfterEach
  void stop() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  /**
   * {@code PUT /v2/t/blobs/uploads/*} digests the body; {@code GET /v2/t/blobs/sha256:<size>} sends size seeded
   * bytes, or with {@code ?stall-after=N} or {@code ?hang-up-after=N} only N of them, then goes silent or closes.
   */
  private void upstream(HttpServerRequest request) {
    request.connection().closeHandler(v -> upstreamConnectionClosed.tryComplete());
    if (request.path().endsWith("/refuse")) {
      // Like a registry's auth layer: answers at once, reads none of the body, hangs up.
      request.response().setStatusCode(401).putHeader("Connection", "close").end(REFUSAL);
      return;
    }
    if (request.method() == HttpMethod.PUT || request.method() == HttpMethod.PATCH) {
      MessageDigest digest = sha256();
      AtomicLong length = new AtomicLong();
      request.handler(chunk -> {
        digest.update(chunk.getBytes());
        length.addAndGet(chunk.length());
      });
      request.endHandler(v -> {
        upstreamSawRequestEnd.set(true);
        request.response().setStatusCode(201)
            .putHeader("X-Length", Long.toString(length.get()))
            .putHeader("X-Sha256", HexFormat.of().formatHex(digest.digest()))
            .end();
      });
      return;
    }
    long size = Long.parseLong(request.path().substring(request.path().lastIndexOf(':') + 1));
    HttpServerResponse response = request.response().putHeader("Content-Length", Long.toString(size));
    if (request.getParam("stall-after") != null) {
      pump(response, Long.parseLong(request.getParam("stall-after")), 42, null, sent);
    } else if (request.getParam("hang-up-after") != null) {
      pump(response, Long.parseLong(request.getParam("hang-up-after")), 42, null, sent)
          .onSuccess(v -> vertx.setTimer(100, id -> request.connection().close()));
    } else {
      pump(response, size, 42, null, sent).onSuccess(v -> response.end());
    }
  }

  @Test
  void uploadWithContentLengthArrivesWholeAndInOrder() throws Exception {
    assertUploadArrivesWhole(false);
  }

  @Test
  void chunkedUploadArrivesWholeAndInOrder() throws Exception {
    assertUploadArrivesWhole(true);
  }

  private void assertUploadArrivesWhole(boolean chunked) throws Exception {
    long size = 64L * MiB + 17;
    MessageDigest expected = sha256();
    HttpClientResponse response = onOneContext(() -> client.request(new RequestOptions().setHost("127.0.0.1").setPort(proxy.port())
        .setMethod(HttpMethod.PUT).setURI("/v2/t/blobs/uploads/u?digest=x")).compose(request -> {
          if (chunked) {
            request.setChunked(true);
          } else {
            request.putHeader("Content-Length", Long.toString(size));
          }
          pump(request, size, 7, expected, new AtomicLong()).onSuccess(v -> request.end());
          return request.response();
        })).await(60, TimeUnit.SECONDS);

    assertThat(response.statusCode()).isEqualTo(201);
    assertThat(response.getHeader("X-Length")).isEqualTo(Long.toString(size));
    assertThat(response.getHeader("X-Sha256")).isEqualTo(HexFormat.of().formatHex(expected.digest()));
  }

  @Test
  void downloadArrivesWholeAndInOrder() throws Exception {
    long size = 64L * MiB + 5;
    MessageDigest received = sha256();
    AtomicLong length = new AtomicLong();

    HttpClientResponse response = client.request(HttpMethod.GET, proxy.port(), "127.0.0.1", "/v2/t/blobs/sha256:" + size)
        .compose(request -> request.send().compose(r -> {
          r.handler(chunk -> {
            received.update(chunk.getBytes());
            length.addAndGet(chunk.length());
          });
          return r.end().map(r);
        })).await(60, TimeUnit.SECONDS);

    MessageDigest expected = sha256();
    pump(new DiscardingStream(), size, 42, expected, new AtomicLong()).await(60, TimeUnit.SECONDS);
    assertThat(response.getHeader("Content-Length")).isEqualTo(Long.toString(size));
    assertThat(length.get()).isEqualTo(size);
    assertThat(received.digest()).isEqualTo(expected.digest());
  }

  @Test
  void aClientThatDoesNotReadHoldsTheUpstreamBack() throws Exception {
    long size = 512L * MiB;
    Promise<Long> sentWhilePaused = Promise.promise();
    AtomicLong length = new AtomicLong();

    Future<HttpClientResponse> done = client.request(HttpMethod.GET, proxy.port(), "127.0.0.1", "/v2/t/blobs/sha256:" + size)
        .compose(request -> request.send().compose(response -> {
          response.pause();
          response.handler(chunk -> length.addAndGet(chunk.length()));
          // A second of not reading: without backpressure the upstream would push hundreds of MiB into the proxy.
          vertx.setTimer(1000, id -> {
            sentWhilePaused.complete(sent.get());
            response.resume();
          });
          return response.end().map(response);
        }));

    long buffered = sentWhilePaused.future().await(30, TimeUnit.SECONDS);
    done.await(120, TimeUnit.SECONDS);
    assertThat(buffered).as("bytes the upstream got out while the client read nothing").isLessThan(64L * MiB);
    assertThat(length.get()).isEqualTo(size);
  }

  @Test
  void aClientLeavingMidDownloadClosesTheUpstreamConnection() throws Exception {
    client.request(HttpMethod.GET, proxy.port(), "127.0.0.1", "/v2/t/blobs/sha256:" + 1024L * MiB)
        .compose(request -> request.send().onSuccess(response -> {
          AtomicLong received = new AtomicLong();
          response.handler(chunk -> {
            if (received.addAndGet(chunk.length()) > MiB) {
              response.request().connection().close();
            }
          });
        }));

    upstreamConnectionClosed.future().await(30, TimeUnit.SECONDS);
    assertThat(sent.get()).isLessThan(1024L * MiB);
  }

  @Test
  void aClientLeavingMidUploadClosesTheUpstreamConnection() throws Exception {
    onOneContext(() -> client.request(new RequestOptions().setHost("127.0.0.1").setPort(proxy.port())
        .setMethod(HttpMethod.PATCH).setURI("/v2/t/blobs/uploads/u")).map(request -> {
          request.putHeader("Content-Length", Long.toString(64L * MiB)).exceptionHandler(e -> {});
          pump(request, MiB, 1, null, new AtomicLong()).onSuccess(v -> request.connection().close());
          return request;
        })).await(10, TimeUnit.SECONDS);

    upstreamConnectionClosed.future().await(30, TimeUnit.SECONDS);
    assertThat(upstreamSawRequestEnd).as("a truncated body must never look complete upstream").isFalse();
  }

  @Test
  void anAnswerBeforeTheBodyReachesTheClientWhole() throws Exception {
    Buffer body = onOneContext(() -> client.request(new RequestOptions().setHost("127.0.0.1").setPort(proxy.port())
        .setMethod(HttpMethod.PATCH).setURI("/v2/t/blobs/uploads/refuse")).compose(request -> {
          request.putHeader("Content-Length", Long.toString(32L * MiB)).exceptionHandler(e -> {});
          pump(request, 32L * MiB, 3, null, new AtomicLong());
          return request.response();
        }).compose(response -> {
          assertThat(response.statusCode()).isEqualTo(401);
          return response.body();
        })).await(30, TimeUnit.SECONDS);

    assertThat(body.toString()).isEqualTo(REFUSAL);
  }

  @Test
  void anUpstreamStallingMidDownloadIsCutAtTheIdleTimeout() throws Exception {
    TestProxy impatient = TestProxy.start(vertx, upstreamOrigin, "--upstream.idle-timeout", "1s");
    long size = 64L * MiB;
    AtomicLong received = new AtomicLong();
    long started = System.nanoTime();

    Future<Void> download = client
        .request(HttpMethod.GET, impatient.port(), "127.0.0.1", "/v2/t/blobs/sha256:" + size + "?stall-after=" + 8 * MiB)
        .compose(request -> request.send().compose(response -> {
          response.handler(chunk -> received.addAndGet(chunk.length()));
          return response.end();
        }));

    assertThatThrownBy(() -> download.await(30, TimeUnit.SECONDS)).as("a truncated body must never look complete").isNotNull();
    upstreamConnectionClosed.future().await(10, TimeUnit.SECONDS);
    assertThat(received.get()).isEqualTo(8L * MiB);
    assertThat(System.nanoTime() - started).as("cut by the 1 s idle timeout, not a later one").isLessThan(TimeUnit.SECONDS.toNanos(15));
  }

  @Test
  void anUpstreamHangingUpMidDownloadClosesTheClientConnection() throws Exception {
    long size = 64L * MiB;
    AtomicLong received = new AtomicLong();

    Future<Void> download = client
        .request(HttpMethod.GET, proxy.port(), "127.0.0.1", "/v2/t/blobs/sha256:" + size + "?hang-up-after=" + 8 * MiB)
        .compose(request -> request.send().compose(response -> {
          response.handler(chunk -> received.addAndGet(chunk.length()));
          return response.end();
        }));

    assertThatThrownBy(() -> download.await(30, TimeUnit.SECONDS)).as("a truncated body must never look complete").isNotNull();
    assertThat(received.get()).isEqualTo(8L * MiB);
  }

  /**
   * Runs {@code work} on one event-loop context, so a request made there is bound to it and the writes,
   * the queue checks and the drain events of {@link #pump} all happen on one thread. Pumping from the test
   * thread could set the drain handler just after the drain it waits for, and stall.
   */
  private <T> Future<T> onOneContext(java.util.function.Supplier<Future<T>> work) {
    Promise<T> result = Promise.promise();
    vertx.getOrCreateContext().runOnContext(v -> work.get().onComplete(result));
    return result.future();
  }

  /** Writes {@code size} seeded pseudo-random bytes in 64 KiB chunks, waiting whenever the stream is full. */
  private Future<Void> pump(WriteStream<Buffer> out, long size, long seed, MessageDigest digest, AtomicLong written) {
    Promise<Void> done = Promise.promise();
    SplittableRandom random = new SplittableRandom(seed);
    new Object() {
      void next() {
        while (written.get() < size) {
          if (out.writeQueueFull()) {
            out.drainHandler(v -> next());
            return;
          }
          byte[] chunk = new byte[(int) Math.min(64 * 1024, size - written.get())];
          random.nextBytes(chunk);
          if (digest != null) {
            digest.update(chunk);
          }
          written.addAndGet(chunk.length);
          out.write(Buffer.buffer(chunk));
        }
        done.tryComplete();
      }
    }.next();
    return done.future();
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A sink that is never full, for recomputing the expected digest. */
  private static final class DiscardingStream implements WriteStream<Buffer> {
    @Override
    public WriteStream<Buffer> exceptionHandler(io.vertx.core.Handler<Throwable> handler) { return this; }
    @Override
    public Future<Void> write(Buffer data) { return Future.succeededFuture(); }
    @Override
    public Future<Void> end() { return Future.succeededFuture(); }
    @Override
    public WriteStream<Buffer> setWriteQueueMaxSize(int maxSize) { return this; }
    @Override
    public boolean writeQueueFull() { return false; }
    @Override
    public WriteStream<Buffer> drainHandler(io.vertx.core.Handler<Void> handler) { return this; }
  }
}
