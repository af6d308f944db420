package dev.quotaproxy.proxy.http;

import static dev.quotaproxy.testing.Eventually.eventually;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.proxy.route.OciOperation;
import dev.quotaproxy.proxy.route.OciRequest;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** What an event loop logs in one turn is written once, in order, and a full queue drops lines without blocking. */
class AccessLogTest {
  private final Vertx vertx = Vertx.vertx();

  @AfterEach
  void close() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  /** Records each write separately. */
  private static final class Writes extends OutputStream {
    final List<String> writes = new CopyOnWriteArrayList<>();
    private final ByteArrayOutputStream current = new ByteArrayOutputStream();

    @Override
    public synchronized void write(int b) {
      current.write(b);
    }

    @Override
    public synchronized void write(byte[] bytes, int offset, int length) {
      current.write(bytes, offset, length);
    }

    @Override
    public synchronized void flush() {
      writes.add(current.toString(StandardCharsets.UTF_8));
      current.reset();
    }
  }

  private static OciRequest request(String repository) {
    return new OciRequest(OciOperation.MANIFEST_GET, repository, "1", null, null, null);
  }

  @Test
  void theLinesOfOneTurnAreHandedOverAndWrittenTogetherInOrder() throws Exception {
    Writes out = new Writes();
    AccessLogWriter writer = new AccessLogWriter(() -> out, "test-access-log");
    Context context = vertx.getOrCreateContext();
    CountDownLatch logged = new CountDownLatch(1);
    context.runOnContext(v -> {
      AccessLog log = AccessLog.on(context, writer);
      for (int i = 0; i < 100; i++) {
        log.write(request("r/" + i), "GET", "/v2/r/" + i + "/manifests/1", "anonymous", 200, 0, 10, 1, "ok");
      }
      logged.countDown();
    });
    assertThat(logged.await(5, TimeUnit.SECONDS)).isTrue();

    eventually(Duration.ofSeconds(5), () -> assertThat(out.writes).hasSize(1));
    String[] lines = out.writes.get(0).split("\n");
    assertThat(lines).hasSize(100);
    for (int i = 0; i < 100; i++) {
      assertThat(lines[i]).contains("\"repo\":\"r/" + i + "\"");
    }
  }

  @Test
  void aLineLoggedAloneIsWrittenWithinAFewMilliseconds() throws Exception {
    Writes out = new Writes();
    AccessLogWriter writer = new AccessLogWriter(() -> out, "test-access-log");
    Context context = vertx.getOrCreateContext();
    long start = System.nanoTime();
    context.runOnContext(v -> AccessLog.on(context, writer).write(request("a/b"), "HEAD", "/v2/a/b/blobs/x", "u", 200, 0, 0, 0, "ok"));
    eventually(Duration.ofSeconds(5), Duration.ofMillis(1), () -> assertThat(out.writes).hasSize(1));
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofMillis(500));
  }

  @Test
  void aWriterThatCannotKeepUpDropsBatchesAndCountsTheirLinesInsteadOfBlocking() throws Exception {
    CountDownLatch stuck = new CountDownLatch(1);
    OutputStream blocked = new OutputStream() {
      @Override
      public void write(int b) {
        await(stuck);
      }

      @Override
      public void write(byte[] bytes, int offset, int length) {
        await(stuck);
      }
    };
    AccessLogWriter writer = new AccessLogWriter(() -> blocked, "test-access-log");
    writer.offer("first\n");
    Thread.sleep(50); // taken by the thread, which is now stuck writing it
    long start = System.nanoTime();
    for (int i = 0; i < AccessLogWriter.QUEUE_BATCHES + 10; i++) {
      writer.offer("a\nb\n");
    }
    assertThat(Duration.ofNanos(System.nanoTime() - start)).as("never blocks").isLessThan(Duration.ofSeconds(1));
    assertThat(writer.dropped()).isEqualTo(20);
    stuck.countDown();
  }

  private static void await(CountDownLatch latch) {
    try {
      latch.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
