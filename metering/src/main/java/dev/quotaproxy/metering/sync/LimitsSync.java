package dev.quotaproxy.metering.sync;

import dev.quotaproxy.config.ProxyConfig;
import dev.quotaproxy.config.ScopeLimitsConfig;
import dev.quotaproxy.oci.Scopes;
import dev.quotaproxy.ledger.limits.Limits;
import dev.quotaproxy.ledger.limits.LimitsLedger;
import dev.quotaproxy.ledger.limits.LimitsLedger.ScopeRecord;
import dev.quotaproxy.ledger.limits.LimitsLedger.SettingsRecord;
import dev.quotaproxy.ledger.limits.SystemSettings;
import dev.quotaproxy.metering.QuotaStore;
import dev.quotaproxy.metering.QuotaStore.ScopeLimits;
import dev.quotaproxy.metering.RedisLimits;
import dev.quotaproxy.metering.schedule.Periodic;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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

  public LimitsSync(LimitsLedger ledger, RedisLimits redisLimits, ProxyConfig config) {
    this.ledger = ledger;
    this.redisLimits = redisLimits;
    this.config = config;
  }

  /** Records the configuration's limits and settings in Postgres, leaving what admins set through the API. */
  public Future<Void> seed() {
    Map<String, Limits> scopes = new LinkedHashMap<>();
    for (Map.Entry<String, ScopeLimitsConfig> scope : config.quota().scopes().entrySet()) {
      ScopeLimitsConfig limits = scope.getValue();
      scopes.put(scope.getKey(), new Limits(limits.storageHard(), limits.storageSoft(), limits.egress(), limits.egressWindowSeconds()));
    }
    ProxyConfig.SystemQuota system = config.quota().system();
    return ledger.seedConfiguration(scopes, new SystemSettings(system.hardStorage(), system.writeRatio(), system.readOnlyForced(), false,
        config.ledger().retentionDays())).onSuccess(v -> seeded = true);
  }

  /**
   * Writes every recorded limit and the system settings to Redis, each at its revision; first records
   * the configuration's if that has not succeeded yet (Postgres was unreachable at start), so the file's
   * limits never go missing from Redis for want of a row.
   */
  public Future<Void> syncOnce() {
    Future<Void> recorded = seeded ? Future.succeededFuture() : seed();
    return recorded.compose(v -> ledger.settings()).compose(this::writeSettings).compose(v -> ledger.allLimits()).compose(records -> {
      List<Future<Boolean>> writes = new ArrayList<>(records.size());
      for (ScopeRecord record : records) {
        Limits limits = record.limits();
        writes.add(redisLimits.putLimits(record.scope(),
            new ScopeLimits(limits.storageHard(), limits.storageSoft(), limits.egress(), limits.egressWindowSeconds()), record.revision()));
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
          Limits limits = record.limits();
          writes.add(redisLimits.putLimits(record.scope(),
              new ScopeLimits(limits.storageHard(), limits.storageSoft(), limits.egress(), limits.egressWindowSeconds()), record.revision()));
        }
      }
      return Future.all(writes).mapEmpty();
    });
  }

  private Future<Boolean> writeSettings(SettingsRecord record) {
    SystemSettings settings = record.settings();
    return redisLimits.putSystemSettings(new QuotaStore.SystemSettings(settings.hardStorage(), settings.writeRatio(), settings.readOnlyForced()),
        record.revision());
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
