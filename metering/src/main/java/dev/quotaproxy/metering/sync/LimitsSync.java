package dev.quotaproxy.metering.sync;

import dev.quotaproxy.config.ProxyConfig;
import dev.quotaproxy.oci.Scopes;
import dev.quotaproxy.ledger.limits.LimitsLedger;
import dev.quotaproxy.ledger.limits.LimitsLedger.ScopeRecord;
import dev.quotaproxy.ledger.limits.LimitsLedger.SettingsRecord;
import dev.quotaproxy.metering.EgressLimits;
import dev.quotaproxy.metering.RedisLimits;
import dev.quotaproxy.metering.schedule.Periodic;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Limits and system settings flow one way: configuration file and admin API into Postgres, Postgres
 * into Redis. At start the file's limits are recorded (only over rows the file wrote itself), then
 * Redis is filled from Postgres; after that every {@code interval} every row is written to Redis again,
 * each at its revision, so a change committed to Postgres whose Redis write was lost (a crash between
 * the two, Redis down or flushed) reaches every proxy instance within one interval, and a newer write
 * is never undone by an older copy.
 */
public final class LimitsSync {
  private static final Logger LOG = LoggerFactory.getLogger(LimitsSync.class);

  private final LimitsLedger ledger;
  private final RedisLimits redisLimits;
  private final ProxyConfig config;
  private boolean seeded;
  private boolean lastFailed;

  private final EgressLimits egressLimits;

  public LimitsSync(LimitsLedger ledger, RedisLimits redisLimits, ProxyConfig config) {
    this(ledger, redisLimits, config, new EgressLimits());
  }

  /** @param egressLimits this process's view of the scopes with an egress limit, replaced by every sync */
  public LimitsSync(LimitsLedger ledger, RedisLimits redisLimits, ProxyConfig config, EgressLimits egressLimits) {
    this.ledger = ledger;
    this.redisLimits = redisLimits;
    this.config = config;
    this.egressLimits = egressLimits;
  }

  /** Records the configuration's limits and settings in Postgres, leaving what admins set through the API. */
  public Future<Void> seed() {
    return ledger.seedConfiguration(config.quota().scopes(), config.systemSettings()).onSuccess(v -> seeded = true);
  }

  /**
   * Writes every recorded limit and the system settings to Redis, each at its revision; first records
   * the configuration's if that has not succeeded yet (Postgres was unreachable at start), so the file's
   * limits never go missing from Redis for want of a row.
   */
  public Future<Void> syncOnce() {
    Future<Void> recorded = seeded ? Future.succeededFuture() : seed();
    return recorded.compose(v -> ledger.settings()).compose(this::writeSettings).compose(v -> ledger.allLimits()).compose(records -> {
      egressLimits.replaceAll(records.stream()
          .map(record -> new EgressLimits.Recorded(record.scope(), record.limits().egress(), record.revision())).toList());
      List<Future<Boolean>> writes = new ArrayList<>(records.size());
      for (ScopeRecord record : records) {
        writes.add(redisLimits.putLimits(record.scope(), record.limits(), record.revision()));
      }
      return Future.all(writes).mapEmpty();
    });
  }

  /**
   * Writes the recorded limits of every scope of one namespace to Redis, each at its revision: part of
   * restoring a namespace whose Redis state was lost, so no decision is made on it without its limits.
   */
  public Future<Void> syncNamespace(String namespace) {
    return ledger.allLimits().compose(records -> {
      List<Future<Boolean>> writes = new ArrayList<>();
      for (ScopeRecord record : records) {
        if (Scopes.namespace(record.scope()).equals(namespace)) {
          writes.add(redisLimits.putLimits(record.scope(), record.limits(), record.revision()));
        }
      }
      return Future.all(writes).mapEmpty();
    });
  }

  private Future<Boolean> writeSettings(SettingsRecord record) {
    return redisLimits.putSystemSettings(record.settings(), record.revision());
  }

  /** Syncs every {@code interval}, never two at once. */
  public long keepSyncing(Vertx vertx, Duration interval) {
    return Periodic.every(vertx, interval.toMillis(), this::syncOnce, done -> {
      if (done.failed() && !lastFailed) {
        LOG.warn("limits not synced from the ledger to the quota store (will retry): {}", done.cause().toString());
      } else if (done.succeeded() && lastFailed) {
        LOG.info("limits synced from the ledger to the quota store again");
      }
      lastFailed = done.failed();
    });
  }
}
