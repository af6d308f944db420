package dev.quotaproxy.proxy.support;

import io.vertx.core.Vertx;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetSocket;
import java.net.URI;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A TCP relay in front of a registry that, when told to, lets the registry act on a request and then cuts
 * the connection instead of passing on its {@code 201}: a registry that died, or a network that broke,
 * between storing something and saying so. Everything else (a {@code 100 Continue} included) passes through.
 */
public final class AnswerDroppingRelay implements AutoCloseable {
  private final NetServer server;
  private final NetClient client;
  private final AtomicBoolean dropNextCreated = new AtomicBoolean();

  private AnswerDroppingRelay(Vertx vertx, String upstreamUrl) throws Exception {
    URI upstream = URI.create(upstreamUrl);
    client = vertx.createNetClient();
    server = vertx.createNetServer().connectHandler(downstream -> {
      downstream.pause();
      client.connect(upstream.getPort(), upstream.getHost()).onSuccess(registry -> {
        downstream.handler(registry::write);
        registry.handler(bytes -> {
          if (bytes.toString(java.nio.charset.StandardCharsets.ISO_8859_1).startsWith("HTTP/1.1 201")
              && dropNextCreated.compareAndSet(true, false)) {
            cut(downstream, registry);
          } else {
            downstream.write(bytes);
          }
        });
        downstream.closeHandler(v -> registry.close());
        registry.closeHandler(v -> downstream.close());
        downstream.resume();
      }).onFailure(e -> downstream.close());
    });
    server.listen(0, "127.0.0.1").toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  public static AnswerDroppingRelay start(Vertx vertx, String upstreamUrl) throws Exception {
    return new AnswerDroppingRelay(vertx, upstreamUrl);
  }

  public String url() {
    return "http://127.0.0.1:" + server.actualPort();
  }

  /** The next {@code 201} the registry sends is not passed on: its connection is cut instead. */
  public void dropNextCreated() {
    dropNextCreated.set(true);
  }

  private static void cut(NetSocket downstream, NetSocket registry) {
    downstream.close();
    registry.close();
  }

  @Override
  public void close() throws Exception {
    server.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    client.close();
  }
}
