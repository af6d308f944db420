import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.LastHttpContent;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.PoolOptions;

/**
 * The floor under the proxy, for scripts/bench-small.sh: the least an HTTP/1.1 relay on the proxy's
 * own stack can cost, with none of the proxy's work (no classification, header rules, quota, metering,
 * access log, meters or timers). Not part of the product; run from source with the proxy jar on the
 * class path, which holds Vert.x and Netty:
 *
 * <pre>java -cp quota-proxy.jar scripts/lib/BareRelay.java vertx|netty PORT UPSTREAM_PORT [EVENT_LOOPS]</pre>
 *
 * {@code vertx}: Vert.x's HTTP server and pooled HTTP client, the answer piped back, as the proxy
 * relays. {@code netty}: Netty's HTTP codecs, one upstream connection per client connection, the
 * decoded parts of each message written straight to the other side.
 */
public final class BareRelay {
  public static void main(String[] args) throws Exception {
    String kind = args[0];
    int port = Integer.parseInt(args[1]);
    int upstreamPort = Integer.parseInt(args[2]);
    int loops = args.length > 3 ? Integer.parseInt(args[3]) : Runtime.getRuntime().availableProcessors();
    switch (kind) {
      case "vertx" -> vertx(port, upstreamPort, loops);
      case "netty" -> netty(port, upstreamPort, loops);
      default -> throw new IllegalArgumentException("vertx or netty, not " + kind);
    }
    System.out.println("bare " + kind + " relay on 127.0.0.1:" + port + " to 127.0.0.1:" + upstreamPort);
  }

  private static void vertx(int port, int upstreamPort, int loops) throws Exception {
    Vertx vertx = Vertx.vertx(new VertxOptions().setPreferNativeTransport(true));
    vertx.deployVerticle(() -> new VerticleBase() {
      @Override
      public Future<?> start() {
        HttpClient client = vertx.createHttpClient(
            new HttpClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(upstreamPort),
            new PoolOptions().setHttp1MaxSize(64));
        return vertx.createHttpServer(new HttpServerOptions().setReusePort(true)).requestHandler(request -> {
          HttpServerResponse response = request.response();
          client.request(request.method(), request.uri()).compose(upstream -> {
            upstream.headers().setAll(request.headers());
            return upstream.send();
          }).onSuccess(answer -> {
            response.setStatusCode(answer.statusCode());
            response.headers().setAll(answer.headers());
            answer.pipeTo(response);
          }).onFailure(e -> response.setStatusCode(502).end());
        }).listen(port, "127.0.0.1");
      }
    }, new DeploymentOptions().setInstances(loops)).await();
  }

  private static void netty(int port, int upstreamPort, int loops) throws Exception {
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(loops, EpollIoHandler.newFactory());
    new ServerBootstrap().group(group).channel(EpollServerSocketChannel.class).option(ChannelOption.SO_REUSEADDR, true)
        .childOption(ChannelOption.TCP_NODELAY, true).childOption(ChannelOption.AUTO_READ, false)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel channel) {
            channel.pipeline().addLast(new HttpServerCodec(), new ClientSide(upstreamPort));
          }
        }).bind("127.0.0.1", port).sync();
  }

  /** A client connection: reads start once its own upstream connection is open. */
  private static final class ClientSide extends ChannelInboundHandlerAdapter {
    private final int upstreamPort;
    private Channel upstream;

    ClientSide(int upstreamPort) {
      this.upstreamPort = upstreamPort;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      Channel client = ctx.channel();
      new Bootstrap().group(client.eventLoop()).channel(EpollSocketChannel.class).option(ChannelOption.TCP_NODELAY, true)
          .handler(new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel channel) {
              channel.pipeline().addLast(new HttpClientCodec(), new ChannelInboundHandlerAdapter() {
                @Override
                public void channelRead(ChannelHandlerContext up, Object part) {
                  forward(part, client);
                }

                @Override
                public void channelInactive(ChannelHandlerContext up) {
                  client.close();
                }
              });
            }
          }).connect("127.0.0.1", upstreamPort).addListener((ChannelFutureListener) connected -> {
            if (!connected.isSuccess()) {
              client.close();
              return;
            }
            upstream = connected.channel();
            client.config().setAutoRead(true);
          });
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object part) {
      if (part instanceof HttpRequest request) {
        request.headers().set(HttpHeaderNames.HOST, "127.0.0.1:" + upstreamPort);
      }
      forward(part, upstream);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      if (upstream != null) {
        upstream.close();
      }
    }

    /** A message's last part flushes it: one write per message, as a proxy that does not buffer makes. */
    private static void forward(Object part, Channel to) {
      if (part instanceof LastHttpContent) {
        to.writeAndFlush(part);
      } else {
        to.write(part);
      }
    }
  }
}
