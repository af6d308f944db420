package dev.quotaproxy.proxy.quota;

import dev.quotaproxy.metering.QuotaStore.Reservation;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.ReadStream;
import java.util.function.Consumer;

/**
 * A request body of unknown length (chunked) that may only move as far as it has reserved: before a
 * piece would pass the reservation, the stream pauses, reserves at least that piece and up to one
 * increment more, and goes on; when a reservation is refused the request is cut off through
 * {@code refuse} and the piece is never forwarded. Overshoot is therefore exactly zero.
 */
final class ReservingReadStream implements ReadStream<Buffer> {
  /** Asks the store for at least {@code min}, at most {@code max} bytes more. */
  interface Reserver {
    Future<Reservation> reserve(long min, long max);
  }

  private final ReadStream<Buffer> delegate;
  private final long increment;
  private final Reserver reserver;
  private final Consumer<Reservation> onDenied;
  private final Consumer<Throwable> onStoreFailure;
  private Handler<Buffer> handler;
  private Handler<Void> endHandler;
  private boolean ended;
  private Buffer pending;
  private boolean pausedDownstream;
  private boolean unmetered;
  private long reserved;
  private long forwarded;

  /**
   * @param onDenied       the store refused: cut the request off
   * @param onStoreFailure the store could not be asked: cut off, or call {@link #continueUnmetered()}
   */
  ReservingReadStream(ReadStream<Buffer> delegate, long increment, Reserver reserver,
      Consumer<Reservation> onDenied, Consumer<Throwable> onStoreFailure) {
    this.delegate = delegate;
    this.increment = increment;
    this.reserver = reserver;
    this.onDenied = onDenied;
    this.onStoreFailure = onStoreFailure;
  }

  /** Bytes reserved by this stream so far. */
  long reserved() {
    return reserved;
  }

  /** Bytes let through so far. */
  long forwarded() {
    return forwarded;
  }

  /** Bytes of the piece held back while a reservation for it is asked (or was refused). */
  long pendingBytes() {
    return pending == null ? 0 : pending.length();
  }

  /** Whether the whole body has passed. */
  boolean ended() {
    return ended;
  }

  /**
   * Ends the body where it stands: the piece waiting for a reservation is never forwarded, the rest of
   * the source is left unread, and downstream sees an end, as if the body were complete. For a chunk
   * refused at the limit, this lets the registry close the chunk cleanly (its session stays valid, so it
   * can be cancelled) instead of holding a broken one.
   */
  void endEarly() {
    if (ended) {
      return;
    }
    ended = true;
    pending = null;
    delegate.handler(null);
    delegate.endHandler(null);
    delegate.pause();
    if (endHandler != null) {
      endHandler.handle(null);
    }
  }

  /** Fail-open after a store failure: let the rest through without reserving. */
  void continueUnmetered() {
    unmetered = true;
    release();
  }

  @Override
  public ReservingReadStream handler(Handler<Buffer> handler) {
    this.handler = handler;
    delegate.handler(handler == null ? null : this::onPiece);
    return this;
  }

  private void onPiece(Buffer piece) {
    long covered = reserved - forwarded;
    if (unmetered || covered >= piece.length()) {
      pass(piece);
      return;
    }
    long needed = piece.length() - covered;
    pending = piece;
    delegate.pause();
    reserver.reserve(needed, Math.max(needed, increment)).onComplete(ar -> {
      if (ar.failed()) {
        onStoreFailure.accept(ar.cause());
      } else if (!ar.result().granted()) {
        onDenied.accept(ar.result());
      } else {
        reserved += ar.result().grantedBytes();
        release();
      }
    });
  }

  /** Lets the held piece through and resumes reading, unless downstream asked for a pause. */
  private void release() {
    Buffer piece = pending;
    pending = null;
    if (piece != null) {
      pass(piece);
    }
    if (!pausedDownstream && pending == null) {
      delegate.resume();
    }
  }

  private void pass(Buffer piece) {
    forwarded += piece.length();
    if (handler != null) {
      handler.handle(piece);
    }
  }

  @Override
  public ReservingReadStream pause() {
    pausedDownstream = true;
    delegate.pause();
    return this;
  }

  @Override
  public ReservingReadStream resume() {
    pausedDownstream = false;
    if (pending == null) {
      delegate.resume();
    }
    return this;
  }

  @Override
  public ReservingReadStream fetch(long amount) {
    if (pending == null) {
      delegate.fetch(amount);
    }
    return this;
  }

  @Override
  public ReservingReadStream endHandler(Handler<Void> endHandler) {
    this.endHandler = endHandler;
    delegate.endHandler(endHandler == null ? null : v -> {
      ended = true;
      this.endHandler.handle(v);
    });
    return this;
  }

  @Override
  public ReservingReadStream exceptionHandler(Handler<Throwable> handler) {
    delegate.exceptionHandler(handler);
    return this;
  }
}
