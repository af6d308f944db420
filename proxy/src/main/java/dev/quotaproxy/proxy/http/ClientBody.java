package dev.quotaproxy.proxy.http;

import dev.quotaproxy.proxy.quota.ExchangeView.BodyTimeoutException;
import dev.quotaproxy.proxy.quota.ExchangeView.BodyTooLargeException;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.streams.ReadStream;
import java.time.Duration;
import java.util.Locale;
import java.util.function.LongConsumer;

/**
 * The client's request body, as an exchange takes it: what the head declares of it, every byte counted
 * and seen by the idle watchdog, its first byte awaited only so long, {@code 100 Continue} sent once and
 * only when the proxy means to take it. Read whole for a quota rule that must see it, or read and dropped
 * after an answer that did not need it. One per exchange, on its event loop.
 */
final class ClientBody {
  /** How long a client may keep sending a body nobody will read, after its answer, before the close. */
  private static final long LINGER_MILLIS = 5_000;

  private final Vertx vertx;
  private final HttpServerRequest request;
  private final IdleWatchdog watchdog;
  private final long firstByteTimeoutMillis;
  private final LongConsumer noFirstByte;
  private final MeteredReadStream counted;
  /** The body as it will be forwarded: the request's, or the request's with its first piece taken already. */
  private ReadStream<Buffer> stream;
  private long firstByteTimer = -1;
  private boolean continueSent;

  /**
   * @param watchdog    the exchange's idle watchdog, which every byte of the body touches
   * @param noFirstByte told, with the deadline in milliseconds, when the first byte does not come in time
   */
  ClientBody(Vertx vertx, HttpServerRequest request, IdleWatchdog watchdog, long firstByteTimeoutMillis, LongConsumer noFirstByte) {
    this.vertx = vertx;
    this.request = request;
    this.watchdog = watchdog;
    this.firstByteTimeoutMillis = firstByteTimeoutMillis;
    this.noFirstByte = noFirstByte;
    this.counted = new MeteredReadStream(request, this::moved);
    this.stream = counted;
  }

  /** The body as it will be forwarded. */
  ReadStream<Buffer> stream() {
    return stream;
  }

  /** Bytes of the body received so far. */
  long bytes() {
    return counted.bytes();
  }

  /** Whether the request has a body: chunked, or a length above zero. */
  boolean present() {
    return present(request.headers());
  }

  long contentLength() {
    return contentLength(request.headers());
  }

  boolean chunked() {
    return chunked(request.headers());
  }

  boolean expectsContinue() {
    return expectsContinue(request.headers());
  }

  static boolean present(MultiMap head) {
    return chunked(head) || contentLength(head) > 0;
  }

  /** The declared length, or -1 when the body is chunked or the length is absent or unreadable. */
  static long contentLength(MultiMap head) {
    String length = head.get(HttpHeaders.CONTENT_LENGTH);
    if (length == null || chunked(head)) {
      return -1;
    }
    try {
      return Long.parseLong(length.trim());
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  static boolean chunked(MultiMap head) {
    String encoding = head.get(HttpHeaders.TRANSFER_ENCODING);
    return encoding != null && encoding.toLowerCase(Locale.ROOT).contains("chunked");
  }

  static boolean expectsContinue(MultiMap head) {
    return "100-continue".equalsIgnoreCase(head.get(HttpHeaders.EXPECT));
  }

  /** Answers {@code 100 Continue}, once, when the client waits for it: the proxy has decided to take the body. */
  void sendContinueIfExpected() {
    if (!continueSent && expectsContinue()) {
      continueSent = true;
      request.response().writeContinue();
    }
  }

  /** Takes the first piece of the body (or its end) and holds it, see {@link HeldBody}; {@code taken} runs then, once. */
  void takeFirstPiece(Runnable taken) {
    stream = HeldBody.take(counted, taken);
  }

  /** Every byte of the body that moves: the idle watchdog sees it, and the first one ends the first-byte deadline. */
  private void moved() {
    watchdog.touch();
    stopFirstByteDeadline();
  }

  /** The body's first byte must come within the deadline from now, or the request is cut off holding nothing. */
  void startFirstByteDeadline() {
    long millis = firstByteTimeoutMillis;
    firstByteTimer = vertx.setTimer(millis, id -> {
      firstByteTimer = -1;
      if (counted.bytes() == 0 && !request.isEnded()) {
        noFirstByte.accept(millis);
      }
    });
  }

  void stopFirstByteDeadline() {
    if (firstByteTimer != -1) {
      vertx.cancelTimer(firstByteTimer);
      firstByteTimer = -1;
    }
  }

  /**
   * Answers 100-continue if the client asked for it, and reads the whole body (see
   * {@link dev.quotaproxy.proxy.quota.ExchangeView#readBody}). A failed read leaves the request paused.
   */
  Future<Buffer> readWhole(int maxBytes, Duration deadline) {
    sendContinueIfExpected();
    if (counted.bytes() == 0 && firstByteTimer == -1) {
      startFirstByteDeadline();
    }
    Promise<Buffer> read = Promise.promise();
    long timer = vertx.setTimer(deadline.toMillis(), id -> {
      stream.handler(null);
      request.pause();
      read.tryFail(new BodyTimeoutException("the body did not arrive whole within " + deadline.toMillis() + "ms"));
    });
    Buffer collected = Buffer.buffer();
    stream.handler(piece -> {
      if (collected.length() + piece.length() > maxBytes) {
        stream.handler(null);
        request.pause();
        vertx.cancelTimer(timer);
        read.tryFail(new BodyTooLargeException(maxBytes));
      } else {
        collected.appendBuffer(piece);
      }
    });
    stream.endHandler(v -> {
      vertx.cancelTimer(timer);
      read.tryComplete(collected);
    });
    stream.resume();
    return read.future();
  }

  /**
   * Closes the client connection once the body it is still sending has been read and dropped, or after
   * {@link #LINGER_MILLIS}. Closing over unread data would send a TCP reset, and a reset makes the
   * client's kernel discard the answer it has not read yet.
   */
  void dropThenClose() {
    // New handlers on the request itself take it from the body pipe, which is left to lapse: closing
    // it would also strip the upstream request's exception handler.
    if (request.isEnded()) {
      request.connection().close();
      return;
    }
    long timer = vertx.setTimer(LINGER_MILLIS, id -> request.connection().close());
    request.handler(dropped -> {});
    request.exceptionHandler(e -> vertx.cancelTimer(timer));
    request.endHandler(v -> {
      vertx.cancelTimer(timer);
      request.connection().close();
    });
    request.resume();
  }
}
