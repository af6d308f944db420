package dev.quotaproxy.metering.sync;

import dev.quotaproxy.metering.EgressLimits;
import dev.quotaproxy.metering.RedisClients;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import io.vertx.redis.client.ResponseType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Listens on {@code qp:limits}, where every limit written to Redis (put_limits.lua) is announced, and tells
 * this process's {@link EgressLimits} at once: a limit set through another proxy's admin API then applies here
 * within a round trip rather than at the next full refresh. A message lost (no connection at the time) is
 * made up by that refresh, every 10 s. One connection of its own, to the standalone Redis, the Sentinels'
 * master, or one node of a Cluster (a PUBLISH on any node reaches every node's subscribers); when it closes,
 * another is opened a second later, the Cluster's next seed first.
 */
public final class LimitsChannel {
  private static final Logger LOG = LoggerFactory.getLogger(LimitsChannel.class);
  public static final String CHANNEL = "qp:limits";
  private static final long RECONNECT_MILLIS = 1_000;

  private final Vertx vertx;
  private final RedisClients clients;
  private final EgressLimits egressLimits;
  private int attempt;
  private Redis client;
  private boolean closed;

  public LimitsChannel(Vertx vertx, RedisClients clients, EgressLimits egressLimits) {
    this.vertx = vertx;
    this.clients = clients;
    this.egressLimits = egressLimits;
  }

  /** Subscribes now and keeps subscribed; completes once the first subscription holds (or failed, retried). */
  public Future<Void> start() {
    return subscribe();
  }

  public void close() {
    closed = true;
    if (client != null) {
      client.close();
    }
  }

  private Future<Void> subscribe() {
    if (closed) {
      return Future.succeededFuture();
    }
    if (client != null) {
      client.close();
    }
    client = Redis.createClient(vertx, options());
    attempt++;
    return client.connect().compose(connection -> {
      connection.handler(this::received);
      connection.endHandler(v -> later("closed"));
      connection.exceptionHandler(e -> LOG.debug("limits channel: {}", e.toString()));
      return connection.send(Request.cmd(Command.SUBSCRIBE).arg(CHANNEL)).<Void>mapEmpty();
    }).onFailure(e -> later(e.toString()));
  }

  private RedisOptions options() {
    return switch (clients.mode()) {
      case CLUSTER -> new RedisOptions().setConnectionString(clients.endpoints().get(attempt % clients.endpoints().size()));
      default -> clients.options();
    };
  }

  private void later(String why) {
    if (closed) {
      return;
    }
    LOG.debug("limits channel {}; subscribing again in {} ms", why, RECONNECT_MILLIS);
    vertx.setTimer(RECONNECT_MILLIS, id -> subscribe());
  }

  /** A push message: ["message", channel, "scope\tegress\trevision"]. */
  private void received(Response message) {
    if (message == null || message.type() != ResponseType.PUSH && message.type() != ResponseType.MULTI || message.size() < 3
        || !"message".equals(message.get(0).toString())) {
      return;
    }
    String[] fields = message.get(2).toString().split("\t");
    if (fields.length != 3) {
      return;
    }
    try {
      egressLimits.put(fields[0], Long.parseLong(fields[1]), Long.parseLong(fields[2]));
    } catch (NumberFormatException e) {
      LOG.debug("limits channel: unreadable message {}", message);
    }
  }
}
