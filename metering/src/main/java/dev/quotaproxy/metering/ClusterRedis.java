package dev.quotaproxy.metering;

import io.vertx.core.Future;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisCluster;
import io.vertx.redis.client.RedisConnection;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;

/**
 * A Redis Cluster client (made by {@code RedisClients}) that can also reach every primary: what a node
 * answers only for itself (SCAN, CONFIG GET, SCRIPT LOAD, PING) is asked of each (see {@link RedisNodes}).
 * Everything else goes to the Vert.x Cluster client, which routes each command by the slot of its keys.
 */
final class ClusterRedis implements Redis {
  private final Redis cluster;
  private final Function<String, Redis> nodes;

  /** Over the Cluster client; {@code nodes} makes a client of one node, given as {@code host:port}. */
  ClusterRedis(Redis cluster, Function<String, Redis> nodes) {
    this.cluster = cluster;
    this.nodes = nodes;
  }

  /** The request sent to every primary, one reply each. */
  Future<List<Response>> onEveryPrimary(Request request) {
    return RedisCluster.create(cluster).onAllMasterNodes(request);
  }

  /** {@code host:port} of every primary, as CLUSTER SLOTS names them now. */
  Future<List<String>> primaries() {
    return cluster.send(Request.cmd(Command.CLUSTER).arg("SLOTS")).map(slots -> {
      Set<String> primaries = new LinkedHashSet<>();
      for (Response range : slots) {
        Response primary = range.get(2);
        primaries.add(primary.get(0).toString() + ":" + primary.get(1).toLong());
      }
      return new ArrayList<>(primaries);
    });
  }

  /** A client of its own to one node, closed by the caller. */
  Redis node(String hostAndPort) {
    return nodes.apply(hostAndPort);
  }

  @Override
  public Future<RedisConnection> connect() {
    return cluster.connect();
  }

  @Override
  public Future<Void> close() {
    return cluster.close();
  }

  @Override
  public Future<Response> send(Request request) {
    return cluster.send(request);
  }

  @Override
  public Future<List<Response>> batch(List<Request> requests) {
    return cluster.batch(requests);
  }
}
