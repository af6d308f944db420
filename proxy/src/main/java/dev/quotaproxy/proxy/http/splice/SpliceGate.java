package dev.quotaproxy.proxy.http.splice;

import io.netty.buffer.ByteBuf;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.epoll.AbstractEpollStreamChannel;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.net.impl.ConnectionBase;
import java.util.ArrayDeque;

/**
 * Sits on an upstream connection between Netty's HTTP decoder and Vert.x. Armed for one blob GET, it
 * looks at the answer's head: when {@link SpliceRule} says the body is worth splicing, it stops the
 * socket from being read and keeps back the body bytes the decoder already has, so that Vert.x sees
 * the head and nothing else. {@link #handOver()} then gives those bytes to the exchange, which sends
 * them and has the kernel move the rest ({@link SplicedBody}). Unarmed, it passes everything on.
 *
 * <p>All methods run on the connection's event loop.
 */
public final class SpliceGate extends ChannelInboundHandlerAdapter {
  static final String NAME = "quota-proxy-splice-gate";
  /** Vert.x's names for an HTTP/1.x client connection's decoder and its own handler. */
  private static final String VERTX_CODEC = "codec";
  private static final String VERTX_HANDLER = "handler";
  /** Netty's defaults for the smallest and first read. */
  private static final int MIN_READ_BYTES = 64;
  private static final int INITIAL_READ_BYTES = 2048;

  private enum State { PASSING, ARMED, HOLDING, HANDED_OVER }

  private final ArrayDeque<HttpContent> held = new ArrayDeque<>();
  private ChannelHandlerContext ctx;
  private State state = State.PASSING;
  private long bodyLength;
  private long heldBytes;
  private boolean bodyComplete;

  /** What the decoder read of the body before the socket was stopped. */
  record HeldBody(long bodyLength, Buffer bytes, boolean complete) {
    long remaining() {
      return bodyLength - bytes.length();
    }
  }

  /** Puts a gate on a new upstream connection, when it is HTTP/1.x over epoll: the only kind a body can be spliced from. */
  public static void install(HttpConnection upstream) {
    Channel channel = upstream instanceof ConnectionBase base ? base.channel() : null;
    if (channel instanceof AbstractEpollStreamChannel) {
      ChannelPipeline pipeline = channel.pipeline();
      if (pipeline.get(VERTX_CODEC) instanceof HttpClientCodec && pipeline.get(VERTX_HANDLER) != null && pipeline.get(NAME) == null) {
        pipeline.addBefore(VERTX_HANDLER, NAME, new SpliceGate());
        // A splice takes as much per call as a read would allocate: let that grow to a whole pipe.
        // Set now, before the connection's first read fixes its allocation handle.
        channel.config()
            .setRecvByteBufAllocator(new AdaptiveRecvByteBufAllocator(MIN_READ_BYTES, INITIAL_READ_BYTES, SplicePipes.PIPE_BYTES));
      }
    }
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
  }

  /** Looks at the head of the next answer on this connection; called before the request is sent. */
  void arm() {
    if (state == State.PASSING) {
      state = State.ARMED;
    }
  }

  /** Whether the current answer's body is held for splicing: the exchange must then take it with {@link #handOver()}. */
  boolean holding() {
    return state == State.HOLDING;
  }

  /**
   * The body bytes held so far and the length still to come from the socket. Completes on a later turn
   * of the event loop, once the socket read that carried the head has been decoded to its end: only
   * then is nothing of the body left inside the decoder.
   */
  Future<HeldBody> handOver() {
    Promise<HeldBody> handed = Promise.promise();
    ctx.executor().execute(() -> {
      if (state != State.HOLDING) {
        handed.fail("the connection closed before its body was handed over");
        return;
      }
      state = State.HANDED_OVER;
      Buffer bytes = Buffer.buffer((int) heldBytes);
      for (HttpContent piece; (piece = held.poll()) != null;) {
        ByteBuf content = piece.content();
        byte[] copy = new byte[content.readableBytes()];
        content.readBytes(copy);
        bytes.appendBytes(copy);
        piece.release();
      }
      handed.complete(new HeldBody(bodyLength, bytes, bodyComplete));
    });
    return handed.future();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    switch (state) {
      case ARMED -> {
        if (msg instanceof HttpResponse head && head.status().code() >= 200) {
          long length = msg instanceof HttpContent
              ? -1
              : SpliceRule.spliceableLength(head.status().code(),
                  head.headers().get(HttpHeaderNames.CONTENT_LENGTH), head.headers().contains(HttpHeaderNames.TRANSFER_ENCODING));
          if (length >= 0) {
            state = State.HOLDING;
            bodyLength = length;
            // Ends the read loop after this socket read; whatever the decoder makes of it is held below.
            ctx.channel().config().setAutoRead(false);
          } else {
            state = State.PASSING;
          }
        }
        ctx.fireChannelRead(msg);
      }
      case HOLDING -> {
        if (msg instanceof HttpContent piece) {
          held.add(piece);
          heldBytes += piece.content().readableBytes();
          bodyComplete |= piece instanceof LastHttpContent;
        } else {
          ctx.fireChannelRead(msg);
        }
      }
      case HANDED_OVER -> {
        // The splice reads the socket itself from now on: a message here means the decoder read body
        // bytes the splice expected, so this connection's body is no longer whole.
        ReferenceCountUtil.release(msg);
        ctx.close();
      }
      default -> ctx.fireChannelRead(msg);
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    releaseHeld();
    ctx.fireChannelInactive();
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    releaseHeld();
  }

  private void releaseHeld() {
    for (HttpContent piece; (piece = held.poll()) != null;) {
      piece.release();
    }
  }
}
