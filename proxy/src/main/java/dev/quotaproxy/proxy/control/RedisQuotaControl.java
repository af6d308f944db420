package dev.quotaproxy.proxy.control;

import dev.quotaproxy.admin.QuotaControl;
import dev.quotaproxy.config.Limits;
import dev.quotaproxy.config.SystemSettings;
import dev.quotaproxy.ledger.Drift;
import dev.quotaproxy.oci.Scopes;
import dev.quotaproxy.metering.sync.Reconciliations;
import dev.quotaproxy.metering.NamespaceRecovery;
import dev.quotaproxy.metering.RedisLimits;
import dev.quotaproxy.metering.ScopeUsage;
import dev.quotaproxy.metering.SystemUsage;
import dev.quotaproxy.metering.UsageReader;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;

/** The admin API's view of Redis (usage, limits in force) and of reconciliation, over the proxy's own store. */
public final class RedisQuotaControl implements QuotaControl {
  private final UsageReader reader;
  private final RedisLimits redisLimits;
  private final NamespaceRecovery recovery;
  private final Reconciliations reconciliations;

  public RedisQuotaControl(UsageReader reader, RedisLimits redisLimits, NamespaceRecovery recovery, Reconciliations reconciliations) {
    this.reader = reader;
    this.redisLimits = redisLimits;
    this.recovery = recovery;
    this.reconciliations = reconciliations;
  }

  /**
   * A namespace whose state Redis does not know (it lost its data) is restored from the ledger first,
   * as a push would have it: usage read before that would be zero, not the truth.
   */
  @Override
  public Future<ScopeUsage> scope(String scope) {
    String namespace = Scopes.namespace(scope);
    return read(scope).compose(reading -> reading.known()
        ? Future.succeededFuture(reading)
        : recovery.ensureKnown(namespace)
            .recover(e -> unavailable("Redis does not hold the state of namespace " + namespace
                + " and it could not be restored from the ledger now (" + e.getMessage() + ")", e))
            .compose(restored -> read(scope)))
        .compose(reading -> reading.known()
            ? Future.succeededFuture(reading.usage())
            : unavailable("the state of namespace " + namespace + " is being restored from the ledger; try again", null));
  }

  private Future<UsageReader.Reading> read(String scope) {
    return reader.scopeUsage(scope).recover(e -> unavailable("the quota store cannot be reached (" + e.getMessage() + ")", e));
  }

  private static <T> Future<T> unavailable(String why, Throwable cause) {
    return Future.failedFuture(new UsageUnavailableException(why, cause));
  }

  @Override
  public Future<List<ScopeUsage>> scopes() {
    return reader.scopes();
  }

  @Override
  public Future<Void> applyLimits(String scope, Limits limits, long revision) {
    return redisLimits.putLimits(scope, limits, revision).mapEmpty();
  }

  @Override
  public Future<Void> applySystem(SystemSettings settings, long revision) {
    return redisLimits.putSystemSettings(settings, revision).mapEmpty();
  }

  @Override
  public Future<SystemUsage> systemUsage() {
    return reader.systemUsage();
  }

  /** Redis against the ledger first (so the registry walk starts from a ledger that has every event), then the registry. */
  @Override
  public Future<JsonObject> reconcileNow() {
    return reconciliations.redisAgainstLedger().compose(redisDrift -> reconciliations.registry().map(report -> {
      JsonArray redis = new JsonArray();
      redisDrift.forEach((scope, numbers) -> redis.add(drift(scope, numbers[0], numbers[1])));
      JsonArray registry = new JsonArray();
      for (Drift drift : report.drift()) {
        registry.add(drift(drift.scope(), drift.expected(), drift.found()));
      }
      return new JsonObject()
          .put("redis", new JsonObject().put("description", "Redis (expected) against the ledger (found); Redis corrected from the ledger")
              .put("drift", redis))
          .put("registry", new JsonObject().put("description", "the ledger (expected) against the registry (found); the ledger corrected")
              .put("reconciliation_id", report.reconciliationId()).put("complete", report.complete())
              .put("repositories", report.walkedInTotal()).put("drift", registry));
    }));
  }

  private static JsonObject drift(String scope, long expected, long found) {
    return new JsonObject().put("scope", scope).put("expected", expected).put("found", found);
  }
}
