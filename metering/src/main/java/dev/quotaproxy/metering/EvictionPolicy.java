package dev.quotaproxy.metering;

import io.vertx.core.Future;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Redis must never evict the quota state. Under {@code maxmemory} with any policy but
 * {@code noeviction} it deletes keys to make room: a reservation, a scope's usage or a marker could
 * vanish between two decisions, and pushes pass limits silently. With {@code noeviction} a full Redis
 * refuses writes instead, which the proxy turns into {@code 503}s: loud, and nothing is lost.
 */
public final class EvictionPolicy {
  private static final Logger LOG = LoggerFactory.getLogger(EvictionPolicy.class);
  static final String SAFE = "noeviction";

  private EvictionPolicy() {}

  /** Thrown when Redis is set to evict keys. */
  public static final class EvictingRedisException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    EvictingRedisException(String policy) {
      super("Redis is set to evict keys under memory pressure (maxmemory-policy " + policy
          + "), which would lose quota state: set maxmemory-policy " + SAFE + " in redis.conf or with CONFIG SET");
    }
  }

  /**
   * Fails with {@link EvictingRedisException} when Redis would evict keys: on a Redis Cluster, when any
   * primary would (each has its own setting). A Redis that refuses {@code CONFIG} (managed services rename
   * it) cannot be checked: that is logged, and passes.
   */
  public static Future<Void> check(Redis redis) {
    return RedisNodes.onEveryPrimary(redis, Request.cmd(Command.CONFIG).arg("GET").arg("maxmemory-policy")).transform(done -> {
      if (done.failed()) {
        String message = String.valueOf(done.cause().getMessage());
        if (message.startsWith("ERR") || message.startsWith("NOPERM")) {
          LOG.warn("Redis's maxmemory-policy cannot be read ({}): make sure it is {}", message, SAFE);
          return Future.succeededFuture();
        }
        return Future.failedFuture(done.cause());
      }
      for (Response reply : done.result()) {
        String policy = valueOf(reply);
        if (policy != null && !policy.equals(SAFE)) {
          return Future.failedFuture(new EvictingRedisException(policy));
        }
      }
      return Future.succeededFuture();
    });
  }

  /** CONFIG GET answers a map in RESP3, a flat name/value array in RESP2. */
  private static String valueOf(Response reply) {
    if (reply == null) {
      return null;
    }
    if (reply.isMap()) {
      Response value = reply.get("maxmemory-policy");
      return value == null ? null : value.toString();
    }
    return reply.size() >= 2 ? reply.get(1).toString() : null;
  }
}
