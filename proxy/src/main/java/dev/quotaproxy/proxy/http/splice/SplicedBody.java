package dev.quotaproxy.proxy.http.splice;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.epoll.AbstractEpollStreamChannel;
import io.netty.handler.ssl.SslHandler;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.net.impl.ConnectionBase;
import java.util.function.LongConsumer;

/**
 * Moves the rest of an upstream body to the client with splice(2): from the upstream socket into a
 * pipe and from the pipe into the client socket, without the bytes ever entering the JVM. A plain
 * relay copies every byte out of the kernel and back in; on a loaded host that halves pull speed.
 *
 * <p>The body moves in pieces of {@link #PIECE_BYTES}, two queued at a time: each finished piece is
 * reported (metering, the idle watchdog), and the socket never goes back to the HTTP decoder in
 * between. Netty's epoll transport handles backpressure: it stops reading the upstream while the
 * pipe cannot be emptied into the client.
 */
final class SplicedBody {
  /** Reporting granularity: an aborted pull is metered to within this many bytes. */
  static final int PIECE_BYTES = 1024 * 1024;

  private final AbstractEpollStreamChannel from;
  private final AbstractEpollStreamChannel to;
  private final long length;
  private final LongConsumer onPiece;
  private final Promise<Void> done = Promise.promise();
  private long queued;
  private long moved;

  private SplicedBody(AbstractEpollStreamChannel from, AbstractEpollStreamChannel to, long length, LongConsumer onPiece) {
    this.from = from;
    this.to = to;
    this.length = length;
    this.onPiece = onPiece;
  }

  /**
   * The channel pair a body can be spliced between, or null: both plain TCP on Linux epoll (TLS must
   * encrypt in user space) and served by the same event loop (Netty's condition for a splice).
   */
  static AbstractEpollStreamChannel[] channels(HttpConnection upstream, HttpConnection client) {
    Channel from = channel(upstream);
    Channel to = channel(client);
    if (from instanceof AbstractEpollStreamChannel source && to instanceof AbstractEpollStreamChannel target
        && source.eventLoop() == target.eventLoop() && source.eventLoop().inEventLoop()
        && source.pipeline().get(SslHandler.class) == null && target.pipeline().get(SslHandler.class) == null
        && source.pipeline().get(SpliceGate.class) != null) {
      return new AbstractEpollStreamChannel[] {source, target};
    }
    return null;
  }

  private static Channel channel(HttpConnection connection) {
    return connection instanceof ConnectionBase base ? base.channel() : null;
  }

  static SpliceGate gate(HttpConnection upstream) {
    Channel channel = channel(upstream);
    return channel == null ? null : channel.pipeline().get(SpliceGate.class);
  }

  /**
   * Starts moving {@code length} bytes; must be called on the channels' event loop once everything
   * written to the client before has left, so no spliced byte can overtake it.
   *
   * @param onPiece told the size of each piece that reached the client socket
   * @return completes when all {@code length} bytes are in the client socket; fails when either side breaks
   */
  static Future<Void> start(AbstractEpollStreamChannel from, AbstractEpollStreamChannel to, long length, LongConsumer onPiece) {
    SplicedBody body = new SplicedBody(from, to, length, onPiece);
    if (length == 0) {
      return Future.succeededFuture();
    }
    SplicePipes.prepare(to);
    body.queueNext();
    body.queueNext();
    // The gate stopped reading when it saw the head; the splice needs the socket read again.
    from.config().setAutoRead(true);
    return body.done.future();
  }

  private void queueNext() {
    if (queued == length) {
      return;
    }
    int piece = (int) Math.min(PIECE_BYTES, length - queued);
    queued += piece;
    from.spliceTo(to, piece).addListener((ChannelFutureListener) spliced -> {
      if (!spliced.isSuccess()) {
        done.tryFail(spliced.cause());
        return;
      }
      moved += piece;
      // Queued before this piece's successor can finish, so the socket is never read by the decoder.
      queueNext();
      onPiece.accept(piece);
      if (moved == length) {
        done.tryComplete();
      }
    });
  }
}
