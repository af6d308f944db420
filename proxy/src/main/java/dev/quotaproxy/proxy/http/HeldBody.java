package dev.quotaproxy.proxy.http;

import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.ReadStream;

/**
 * A request body whose first piece has been taken already (to learn that the client really sends one,
 * before anything is asked of the registry or the quota store): it hands that piece out first, then the
 * rest, with backpressure, as if it had never been taken. The end may have come with the first piece.
 */
final class HeldBody implements ReadStream<Buffer> {
  private final ReadStream<Buffer> rest;
  private Buffer held;
  private boolean endHeld;
  private boolean paused = true;
  private Handler<Buffer> handler;
  private Handler<Void> endHandler;

  /** Takes the first piece of {@code body} (or its end) and pauses it; {@code taken} runs then, once. */
  static HeldBody take(ReadStream<Buffer> body, Runnable taken) {
    HeldBody heldBody = new HeldBody(body);
    body.handler(piece -> {
      body.pause();
      boolean first = heldBody.held == null && !heldBody.endHeld;
      heldBody.held = heldBody.held == null ? piece : heldBody.held.appendBuffer(piece);
      if (first) {
        taken.run();
      }
    });
    body.endHandler(v -> {
      boolean first = heldBody.held == null && !heldBody.endHeld;
      heldBody.endHeld = true;
      if (first) {
        taken.run();
      }
    });
    body.resume();
    return heldBody;
  }

  private HeldBody(ReadStream<Buffer> rest) {
    this.rest = rest;
  }

  /** Bytes taken and not handed out yet. */
  int heldBytes() {
    return held == null ? 0 : held.length();
  }

  @Override
  public HeldBody handler(Handler<Buffer> handler) {
    this.handler = handler;
    if (!endHeld) {
      rest.handler(handler);
    }
    return this;
  }

  @Override
  public HeldBody endHandler(Handler<Void> endHandler) {
    this.endHandler = endHandler;
    if (!endHeld) {
      rest.endHandler(endHandler);
    }
    return this;
  }

  @Override
  public HeldBody exceptionHandler(Handler<Throwable> handler) {
    rest.exceptionHandler(handler);
    return this;
  }

  @Override
  public HeldBody pause() {
    paused = true;
    rest.pause();
    return this;
  }

  @Override
  public HeldBody resume() {
    paused = false;
    drainHeld();
    if (!paused && held == null && !endHeld) {
      rest.resume();
    }
    return this;
  }

  @Override
  public HeldBody fetch(long amount) {
    return amount > 0 ? resume() : this;
  }

  /** Hands out the held piece, then the held end; a handler that pauses meanwhile stops it there. */
  private void drainHeld() {
    if (held != null && handler != null) {
      Buffer piece = held;
      held = null;
      handler.handle(piece);
    }
    if (!paused && held == null && endHeld && endHandler != null) {
      Handler<Void> end = endHandler;
      endHandler = null;
      end.handle(null);
    }
  }
}
