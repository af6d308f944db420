package dev.quotaproxy.metering;

import io.vertx.core.Future;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * What a Redis Cluster does differently from one Redis, in one place. A pipeline may only carry keys
 * of one slot, so the reads over many namespaces (each namespace is one slot, {@code qp:{ns}:...}) go
 * as one pipeline per namespace; and what a node answers only for itself (SCAN sees only its own keys,
 * CONFIG GET and SCRIPT LOAD are about that one server) is asked of every primary. On one Redis, and on
 * the master Sentinel names, each of these is the single call it always was.
 */
public final class RedisNodes {
  /** Namespaces' pipelines in flight at once on a Cluster: each holds a pooled connection while it waits. */
  static final int PIPELINES_IN_FLIGHT = 8;
  /** Keys SCAN looks at per call. */
  private static final int SCAN_COUNT = 1000;

  private RedisNodes() {}

  /** Whether the client is a Redis Cluster's (made by {@link RedisClients}). */
  public static boolean isCluster(Redis redis) {
    return redis instanceof ClusterRedis;
  }

  /** A node-local request (CONFIG GET, SCRIPT LOAD, PING) sent to every primary: their replies; on one Redis, its reply. */
  public static Future<List<Response>> onEveryPrimary(Redis redis, Request request) {
    if (redis instanceof ClusterRedis cluster) {
      return cluster.onEveryPrimary(request);
    }
    return redis.send(request).map(Collections::singletonList);
  }

  /**
   * Each group's requests pipelined, their replies in the same shape. A group must touch one slot (one
   * namespace's keys, or a single global key). On one Redis every group goes in one pipeline, as one round
   * trip; on a Cluster each group is its own pipeline, routed to the node of its slot,
   * {@link #PIPELINES_IN_FLIGHT} at a time.
   */
  public static Future<List<List<Response>>> pipelined(Redis redis, List<List<Request>> groups) {
    if (!(redis instanceof ClusterRedis)) {
      List<Request> all = new ArrayList<>();
      groups.forEach(all::addAll);
      if (all.isEmpty()) {
        return Future.succeededFuture(groups.stream().map(g -> List.<Response>of()).toList());
      }
      return redis.batch(all).map(replies -> {
        List<List<Response>> split = new ArrayList<>(groups.size());
        int from = 0;
        for (List<Request> group : groups) {
          split.add(replies.subList(from, from + group.size()));
          from += group.size();
        }
        return split;
      });
    }
    List<List<Response>> replies = new ArrayList<>(groups.size());
    Future<Void> done = Future.succeededFuture();
    for (int from = 0; from < groups.size(); from += PIPELINES_IN_FLIGHT) {
      List<List<Request>> window = groups.subList(from, Math.min(groups.size(), from + PIPELINES_IN_FLIGHT));
      done = done.compose(v -> {
        List<Future<List<Response>>> sent = new ArrayList<>(window.size());
        window.forEach(group -> sent.add(group.isEmpty() ? Future.succeededFuture(List.of()) : redis.batch(group)));
        return Future.all(sent).map(all -> {
          for (int i = 0; i < sent.size(); i++) {
            replies.add(all.resultAt(i));
          }
          return null;
        });
      });
    }
    return done.map(v -> replies);
  }

  /**
   * Every key matching {@code pattern}: SCAN, cursor by cursor, on one Redis; on a Cluster, on each
   * primary through a client of its own (a node's SCAN sees only that node's keys). SCAN may name a key
   * twice; the set holds it once.
   */
  public static Future<Set<String>> scan(Redis redis, String pattern) {
    Set<String> found = new LinkedHashSet<>();
    if (!(redis instanceof ClusterRedis cluster)) {
      return scanFrom(redis, "0", pattern, found).map(found);
    }
    return cluster.primaries().compose(primaries -> {
      List<Future<Set<String>>> scans = new ArrayList<>();
      for (String primary : primaries) {
        Redis node = cluster.node(primary);
        Set<String> onNode = new LinkedHashSet<>();
        scans.add(scanFrom(node, "0", pattern, onNode).eventually(node::close).map(onNode));
      }
      return Future.all(scans).map(all -> {
        for (int i = 0; i < scans.size(); i++) {
          found.addAll(all.resultAt(i));
        }
        return found;
      });
    });
  }

  private static Future<Void> scanFrom(Redis redis, String cursor, String pattern, Set<String> found) {
    return redis.send(Request.cmd(Command.SCAN).arg(cursor).arg("MATCH").arg(pattern).arg("COUNT").arg(SCAN_COUNT)).compose(reply -> {
      reply.get(1).forEach(key -> found.add(key.toString()));
      String next = reply.get(0).toString();
      return next.equals("0") ? Future.succeededFuture() : scanFrom(redis, next, pattern, found);
    });
  }
}
