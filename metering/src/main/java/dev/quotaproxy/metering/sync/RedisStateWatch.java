package dev.quotaproxy.metering.sync;

import dev.quotaproxy.ledger.Ledger;
import dev.quotaproxy.ledger.StreamPosition;
import dev.quotaproxy.metering.EvictionPolicy;
import dev.quotaproxy.metering.QuotaKeys;
import dev.quotaproxy.metering.schedule.Periodic;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Notices, without waiting for a push, when Redis no longer holds the state the ledger knows: a
 * namespace whose marker is gone (Redis came back empty) or carries another epoch (another Redis),
 * or whose event stream ends before what the ledger applied, or whose sequence number is below the ledger's
 * (Redis restored from an older copy; events it appends after are found out by the ledger too). Such
 * a namespace is restored from the ledger; until then decisions on it are refused. Every pass also lists
 * the ledger's namespaces in {@link QuotaKeys#NAMESPACES} again, and warns if Redis was set to evict.
 */
public final class RedisStateWatch {
  private static final Logger LOG = LoggerFactory.getLogger(RedisStateWatch.class);

  private final Redis redis;
  private final Ledger ledger;
  private final LedgerRecovery recovery;

  public RedisStateWatch(Redis redis, Ledger ledger, LedgerRecovery recovery) {
    this.redis = redis;
    this.ledger = ledger;
    this.recovery = recovery;
  }

  /** Checks now and then every {@code intervalMillis}, never two checks at once. */
  public long keepWatching(Vertx vertx, long intervalMillis) {
    return Periodic.nowAndEvery(vertx, intervalMillis, this::watchOnce, done -> {
      if (done.failed()) {
        LOG.warn("Redis state not checked against the ledger: {}", done.cause().toString());
      }
    });
  }

  /** One pass over every namespace the ledger knows; restores those Redis does not hold as the ledger does. */
  public Future<Void> watchOnce() {
    // A policy changed since the start cannot stop the proxy, but it must not go unnoticed.
    EvictionPolicy.check(redis).onFailure(e -> {
      if (e instanceof EvictionPolicy.EvictingRedisException) {
        LOG.error("{}", e.getMessage());
      }
    });
    return recovery.bindRedis().compose(bound -> ledger.redisEpoch()).compose(epoch -> ledger.namespaces().compose(namespaces -> {
      // Listed again every pass: a list deleted on its own would otherwise hide them from the feed and the sums.
      Future<Void> all = namespaces.isEmpty() ? Future.succeededFuture() : listed(namespaces);
      for (String namespace : namespaces) {
        // A namespace that cannot be checked now (Redis busy, a call cut off) is checked on the next pass.
        all = all.compose(v -> check(namespace, epoch).recover(e -> {
          LOG.debug("namespace {}: Redis state not checked this pass: {}", namespace, e.toString());
          return Future.succeededFuture();
        }));
      }
      return all;
    }));
  }

  private Future<Void> listed(List<String> namespaces) {
    Request add = Request.cmd(Command.SADD).arg(QuotaKeys.NAMESPACES);
    namespaces.forEach(add::arg);
    return redis.send(add).mapEmpty();
  }

  private Future<Void> check(String namespace, String epoch) {
    QuotaKeys keys = QuotaKeys.of(namespace);
    return redis.send(Request.cmd(Command.GET).arg(keys.epoch())).compose(marker -> {
      if (marker == null || !epoch.equals(marker.toString())) {
        return forgetAndRestore(namespace, marker == null ? "has no marker" : "carries another epoch");
      }
      // The ledger's number first: Redis numbers every event before the ledger can apply it, so a Redis read
      // after it is below it only if Redis went back.
      return ledger.sequence(namespace).compose(applied -> redis.send(Request.cmd(Command.GET).arg(keys.sequence()))
          .compose(numbered -> {
            long inRedis = numbered == null ? 0 : numbered.toLong();
            if (inRedis < applied) {
              return forgetAndRestore(namespace, "numbered its events up to " + inRedis + ", below the ledger's " + applied);
            }
            return ledger.progress(namespace).compose(progress -> progress.isEmpty()
                ? Future.succeededFuture()
                : lastStreamId(keys).compose(last -> last == null || last.compareTo(progress.get()) < 0
                    ? forgetAndRestore(namespace, "has an event stream older than the ledger's")
                    : Future.succeededFuture()));
          }));
    });
  }

  private Future<Void> forgetAndRestore(String namespace, String why) {
    LOG.warn("namespace {}: Redis {}; restoring it from the ledger", namespace, why);
    return recovery.restoreFromLedger(namespace);
  }

  /**
   * The id the stream last generated (kept after trimming), or null when there is no stream. A call that fails
   * otherwise (a full pool, a timeout) fails: taken for a missing stream, it would restore a healthy namespace.
   */
  private Future<StreamPosition> lastStreamId(QuotaKeys keys) {
    return redis.send(Request.cmd(Command.XINFO).arg("STREAM").arg(keys.events()))
        .map(info -> {
          Response id = info.isMap() ? info.get("last-generated-id") : valueAfter(info, "last-generated-id");
          return id == null ? null : StreamPosition.parse(id.toString());
        })
        .recover(e -> e.getMessage() != null && e.getMessage().contains("no such key")
            ? Future.succeededFuture(null)
            : Future.failedFuture(e));
  }

  private static Response valueAfter(Response pairs, String name) {
    for (int i = 0; i + 1 < pairs.size(); i += 2) {
      if (name.equals(pairs.get(i).toString())) {
        return pairs.get(i + 1);
      }
    }
    return null;
  }
}
