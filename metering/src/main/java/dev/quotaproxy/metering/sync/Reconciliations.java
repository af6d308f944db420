package dev.quotaproxy.metering.sync;

import dev.quotaproxy.ledger.CountsByScope;
import dev.quotaproxy.ledger.Ledger;
import dev.quotaproxy.ledger.Reconciler;
import dev.quotaproxy.ledger.Reconciler.Report;
import dev.quotaproxy.metering.QuotaKeys;
import dev.quotaproxy.metering.RedisReplies;
import dev.quotaproxy.metering.schedule.Periodic;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps Redis, Postgres and the registry in agreement, on a schedule and on demand:
 * <ol>
 *   <li>Redis against Postgres: for each namespace, once its stream has reached the ledger, committed
 *       usage and counts in Redis are compared with the ledger's; where they differ, Postgres wins and the
 *       namespace is restored from it (reservations, bytes in flight that only Redis knows, stay).
 *   <li>Postgres against the registry ({@link Reconciler}): the registry is walked and the ledger
 *       corrected; the namespaces that changed are then restored into Redis from the corrected ledger.
 * </ol>
 * Drift is logged and recorded in the {@code reconciliations} and {@code drift} tables.
 */
public final class Reconciliations {
  private static final Logger LOG = LoggerFactory.getLogger(Reconciliations.class);

  private final Redis redis;
  private final Ledger ledger;
  private final Reconciler reconciler;
  private final LedgerRecovery recovery;

  public Reconciliations(Redis redis, Ledger ledger, Reconciler reconciler, LedgerRecovery recovery) {
    this.redis = redis;
    this.ledger = ledger;
    this.reconciler = reconciler;
    this.recovery = recovery;
  }

  /** Both reconciliations every {@code interval} (never two at once); nothing when it is zero. */
  public void keepReconciling(Vertx vertx, Duration interval) {
    if (interval.isZero()) {
      return;
    }
    Periodic.every(vertx, interval.toMillis(), this::both, done -> {
      if (done.failed()) {
        LOG.warn("scheduled reconciliation failed (the next one resumes it): {}", done.cause().toString());
      }
    });
  }

  /** Redis against the ledger, then the ledger against the registry (and Redis after it). */
  public Future<Report> both() {
    return redisAgainstLedger().compose(drift -> registry());
  }

  /** Reconciles the ledger with the registry, then Redis with the corrected ledger. */
  public Future<Report> registry() {
    return reconciler.reconcile().compose(this::followInRedis);
  }

  /** Fills the ledger from a registry that already holds images, then Redis from the ledger. */
  public Future<Report> backfill() {
    return reconciler.backfill().compose(this::followInRedis);
  }

  private Future<Report> followInRedis(Report report) {
    if (!report.drift().isEmpty()) {
      LOG.warn("{} reconciliation {} found drift in {} scopes: {}", report.kind().label(), report.reconciliationId(),
          report.drift().size(), report.drift());
    }
    Future<Void> restored = Future.succeededFuture();
    for (String namespace : new TreeSet<>(report.changedNamespaces())) {
      restored = restored.compose(v -> recovery.refreshFromLedger(namespace));
    }
    return restored.map(report);
  }

  /**
   * Compares every namespace's committed usage in Redis with the ledger's and restores those that
   * differ. Returns the drift found: scope to {Redis's bytes, the ledger's bytes}.
   */
  public Future<Map<String, long[]>> redisAgainstLedger() {
    Map<String, long[]> drift = new TreeMap<>();
    return ledger.namespaces().compose(namespaces -> {
      Future<Void> all = Future.succeededFuture();
      for (String namespace : namespaces) {
        all = all.compose(v -> compare(namespace, drift));
      }
      return all;
    }).compose(v -> ledger.recordRedisDrift(drift)).map(id -> {
      if (!drift.isEmpty()) {
        LOG.warn("Redis drifted from the ledger in {} scopes (corrected from Postgres): {}", drift.size(), drift.keySet());
      }
      return drift;
    });
  }

  private Future<Void> compare(String namespace, Map<String, long[]> drift) {
    QuotaKeys keys = QuotaKeys.of(namespace);
    return lastEntry(keys).compose(before -> recovery.drainStream(namespace, keys)
        .compose(v -> redis.send(Request.cmd(Command.HGETALL).arg(keys.used())))
        .compose(redisUsed -> redis.send(Request.cmd(Command.HGETALL).arg(keys.counts())).compose(redisCounts -> ledger
            .namespaceUsage(namespace).compose(ledgerUsed -> ledger.namespaceCounts(namespace).compose(ledgerCounts -> lastEntry(keys)
                .compose(after -> {
                  if (!before.equals(after)) {
                    return Future.succeededFuture(); // changes arrived meanwhile: compare on the next round
                  }
                  Map<String, long[]> differences = differences(hash(redisUsed), ledgerUsed);
                  Map<String, long[]> countDifferences = differences(hash(redisCounts), countFields(ledgerCounts));
                  if (differences.isEmpty() && countDifferences.isEmpty()) {
                    return Future.succeededFuture();
                  }
                  if (!countDifferences.isEmpty()) {
                    // Bytes drift is recorded per scope; counts are corrected with it, and logged.
                    LOG.warn("Redis counts drifted from the ledger in {} (corrected from Postgres): {}", namespace,
                        countDifferences.keySet());
                  }
                  drift.putAll(differences);
                  return recovery.refreshFromLedger(namespace);
                }))))));
  }

  /** The ledger's counts as the fields of Redis's counts hash: {@code S|repositories}, {@code S|manifests}. */
  static Map<String, Long> countFields(Map<String, CountsByScope> counts) {
    Map<String, Long> fields = new TreeMap<>();
    counts.forEach((scope, count) -> {
      fields.put(scope + "|repositories", count.repositories());
      fields.put(scope + "|manifests", count.manifests());
    });
    return fields;
  }

  static Map<String, long[]> differences(Map<String, Long> redisUsed, Map<String, Long> ledgerUsed) {
    Map<String, long[]> differences = new TreeMap<>();
    Set<String> scopes = new TreeSet<>(redisUsed.keySet());
    scopes.addAll(ledgerUsed.keySet());
    for (String scope : scopes) {
      long inRedis = redisUsed.getOrDefault(scope, 0L);
      long inLedger = ledgerUsed.getOrDefault(scope, 0L);
      if (inRedis != inLedger) {
        differences.put(scope, new long[] {inRedis, inLedger});
      }
    }
    return differences;
  }

  private Future<String> lastEntry(QuotaKeys keys) {
    return redis.send(Request.cmd(Command.XREVRANGE).arg(keys.events()).arg("+").arg("-").arg("COUNT").arg(1))
        .map(reply -> reply == null || reply.size() == 0 ? "" : reply.get(0).get(0).toString());
  }

  private static Map<String, Long> hash(Response reply) {
    Map<String, Long> values = new TreeMap<>();
    RedisReplies.forEachField(reply, (field, value) -> values.put(field, value.toLong()));
    return values;
  }

}
