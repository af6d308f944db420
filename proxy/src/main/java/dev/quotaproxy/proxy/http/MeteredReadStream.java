package dev.quotaproxy.proxy.http;

import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.ReadStream;

/**
 * A body stream that counts its bytes as they pass and reports each chunk, so metering happens on
 * the stream itself and never needs the body in memory. Flow control is the delegate's.
 */
public final class MeteredReadStream implements ReadStream<Buffer> {
  private final ReadStream<Buffer> delegate;
  private final Runnable onChunk;
  private long bytes;

  public MeteredReadStream(ReadStream<Buffer> delegate, Runnable onChunk) {
    this.delegate = delegate;
    this.onChunk = onChunk;
  }

  public long bytes() {
    return bytes;
  }

  @Override
  public MeteredReadStream handler(Handler<Buffer> handler) {
    if (handler == null) {
      delegate.handler(null);
    } else {
      delegate.handler(chunk -> {
        bytes += chunk.length();
        onChunk.run();
        handler.handle(chunk);
      });
    }
    return this;
  }

  @Override
  public MeteredReadStream exceptionHandler(Handler<Throwable> handler) {
    delegate.exceptionHandler(handler);
    return this;
  }

  @Override
  public MeteredReadStream pause() {
    delegate.pause();
    return this;
  }

  @Override
  public MeteredReadStream resume() {
    delegate.resume();
    return this;
  }

  @Override
  public MeteredReadStream fetch(long amount) {
    delegate.fetch(amount);
    return this;
  }

  @Override
  public MeteredReadStream endHandler(Handler<Void> endHandler) {
    delegate.endHandler(endHandler);
    return this;
  }
}
