package dev.quotaproxy.proxy.metrics;

import dev.quotaproxy.proxy.metrics.NearLimitScopes.ScopeUsage;
import dev.quotaproxy.proxy.quota.QuotaKeys;
import io.vertx.core.Future;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads, for every namespace in Redis, the committed usage and hard limit of each of its scopes that
 * has a hard limit: two hash reads per namespace, pipelined in batches. Scopes without a limit cannot
 * be near one and are left out.
 */
final class ScopeUsageReader {
  private static final int NAMESPACES_PER_BATCH = 256;
  private static final String HARD = "|hard";

  private final Redis redis;

  ScopeUsageReader(Redis redis) {
    this.redis = redis;
  }

  Future<List<ScopeUsage>> limitedScopes() {
    return redis.send(Request.cmd(Command.SMEMBERS).arg(QuotaKeys.NAMESPACES)).compose(members -> {
      List<String> namespaces = new ArrayList<>();
      if (members != null) {
        members.forEach(member -> namespaces.add(member.toString()));
      }
      List<Future<List<ScopeUsage>>> batches = new ArrayList<>();
      for (int from = 0; from < namespaces.size(); from += NAMESPACES_PER_BATCH) {
        batches.add(batch(namespaces.subList(from, Math.min(namespaces.size(), from + NAMESPACES_PER_BATCH))));
      }
      return Future.all(batches).map(all -> {
        List<ScopeUsage> scopes = new ArrayList<>();
        for (int i = 0; i < all.size(); i++) {
          scopes.addAll(all.resultAt(i));
        }
        return scopes;
      });
    });
  }

  private Future<List<ScopeUsage>> batch(List<String> namespaces) {
    List<Request> requests = new ArrayList<>(namespaces.size() * 2);
    for (String namespace : namespaces) {
      QuotaKeys keys = QuotaKeys.of(namespace);
      requests.add(Request.cmd(Command.HGETALL).arg(keys.limits()));
      requests.add(Request.cmd(Command.HGETALL).arg(keys.used()));
    }
    return redis.batch(requests).map(replies -> {
      List<ScopeUsage> scopes = new ArrayList<>();
      for (int i = 0; i < replies.size(); i += 2) {
        Map<String, String> limits = hash(replies.get(i));
        Map<String, String> used = hash(replies.get(i + 1));
        limits.forEach((field, value) -> {
          if (field.endsWith(HARD)) {
            String scope = field.substring(0, field.length() - HARD.length());
            long hard = Long.parseLong(value);
            if (hard >= 0) {
              scopes.add(new ScopeUsage(scope, Long.parseLong(used.getOrDefault(scope, "0")), hard));
            }
          }
        });
      }
      return scopes;
    });
  }

  /** A hash reply: a map in RESP3, a flat array of fields and values in RESP2. */
  private static Map<String, String> hash(Response reply) {
    Map<String, String> values = new HashMap<>();
    if (reply == null) {
      return values;
    }
    if (reply.isMap()) {
      reply.getKeys().forEach(key -> values.put(key, reply.get(key).toString()));
    } else {
      for (int i = 0; i + 1 < reply.size(); i += 2) {
        values.put(reply.get(i).toString(), reply.get(i + 1).toString());
      }
    }
    return values;
  }
}
