package dev.quotaproxy.proxy.http.splice;

import io.netty.channel.epoll.AbstractEpollStreamChannel;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpServerResponse;
import java.util.function.BooleanSupplier;

/**
 * Relays one blob download's answer with its body spliced (see {@link SplicedBody}): armed before the
 * request goes upstream, so that the {@link SpliceGate} looks at the answer's head, then, when the gate
 * holds the body, sends the head and the held bytes through Vert.x and has the kernel move the rest.
 * One per download that can be spliced; runs on the exchange's event loop.
 */
public final class SpliceRelay {
  /** How often a spliced body, which the client connection's idle timer cannot see, tells that timer it is moving. */
  static final long KEEPALIVE_NANOS = 1_000_000_000L;

  private final AbstractEpollStreamChannel from;
  private final AbstractEpollStreamChannel to;
  private final SpliceGate gate;
  private HttpServerResponse response;
  private Runnable moved;
  private long splicedBytes;
  private long lastKeepAlive;

  private SpliceRelay(AbstractEpollStreamChannel from, AbstractEpollStreamChannel to, SpliceGate gate) {
    this.from = from;
    this.to = to;
    this.gate = gate;
  }

  /**
   * Arms the upstream connection's gate for the next answer when a body can be spliced between these
   * connections (see {@link SplicedBody#channels}); call before the request is sent.
   *
   * @return the relay, or null when the answer must be copied
   */
  public static SpliceRelay arm(HttpConnection upstream, HttpConnection client) {
    AbstractEpollStreamChannel[] channels = SplicedBody.channels(upstream, client);
    if (channels == null) {
      return null;
    }
    SpliceGate gate = SplicedBody.gate(upstream);
    gate.arm();
    return new SpliceRelay(channels[0], channels[1], gate);
  }

  /** Whether the gate holds this answer's body: it must then be relayed with {@link #relay}, not read. */
  public boolean holding() {
    return gate.holding();
  }

  /** Body bytes the kernel moved to the client; the bytes the gate held went through the response, and are not counted here. */
  public long splicedBytes() {
    return splicedBytes;
  }

  /**
   * Sends the head (set on {@code response} already) and the body bytes the gate held through Vert.x,
   * then, once they have left, has the kernel move the rest. The response is not ended. The upstream
   * connection cannot carry another exchange afterwards: its HTTP decoder never saw the body end.
   *
   * @param ended whether the exchange ended meanwhile; nothing more is sent then, and the relay fails
   * @param moved told whenever body bytes move (the exchange's idle watchdog)
   * @return completes when the whole body is in the client socket; fails when either side breaks
   */
  public Future<Void> relay(HttpServerResponse response, BooleanSupplier ended, Runnable moved) {
    this.response = response;
    this.moved = moved;
    return gate.handOver().compose(held -> {
      if (ended.getAsBoolean()) {
        return Future.<Void>failedFuture("exchange already ended");
      }
      moved.run();
      Future<Void> sent = response.writeHead();
      if (held.bytes().length() > 0) {
        sent = response.write(held.bytes());
      }
      lastKeepAlive = System.nanoTime();
      return sent.compose(v -> ended.getAsBoolean()
          ? Future.<Void>failedFuture("exchange already ended")
          : SplicedBody.start(from, to, held.remaining(), this::piece));
    });
  }

  private void piece(long bytes) {
    splicedBytes += bytes;
    moved.run();
    long now = System.nanoTime();
    if (now - lastKeepAlive >= KEEPALIVE_NANOS && !response.closed()) {
      // An empty write passes the client connection's idle handler, which spliced bytes bypass.
      lastKeepAlive = now;
      response.write(Buffer.buffer());
    }
  }
}
