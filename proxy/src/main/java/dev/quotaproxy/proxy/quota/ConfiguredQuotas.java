package dev.quotaproxy.proxy.quota;

import dev.quotaproxy.config.ProxyConfig;
import dev.quotaproxy.config.ScopeLimitsConfig;
import dev.quotaproxy.proxy.quota.QuotaStore.ScopeLimits;
import dev.quotaproxy.proxy.quota.QuotaStore.SystemSettings;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Puts the limits and system settings of the configuration where every decision reads them (the
 * store), and keeps the process's {@link SystemGuard} current: every refresh reads the system
 * settings and sums system usage. Settings found missing (the store lost its data) are written
 * again from the configuration.
 */
public final class ConfiguredQuotas {
  private static final Logger LOG = LoggerFactory.getLogger(ConfiguredQuotas.class);

  private final QuotaStore store;
  private final ProxyConfig.Quota config;
  private final SystemGuard guard;
  private boolean applied;
  private boolean lastRefreshFailed;
  private boolean refreshing;

  public ConfiguredQuotas(QuotaStore store, ProxyConfig.Quota config, SystemGuard guard) {
    this.store = store;
    this.config = config;
    this.guard = guard;
  }

  /** Writes every configured scope limit and the system settings. */
  public Future<Void> apply() {
    return writeConfigured().onSuccess(v -> applied = true);
  }

  private Future<Void> writeConfigured() {
    List<Future<Void>> writes = new ArrayList<>();
    writes.add(store.putSystemSettings(systemSettings()));
    for (Map.Entry<String, ScopeLimitsConfig> scope : config.scopes().entrySet()) {
      ScopeLimitsConfig limits = scope.getValue();
      writes.add(store.putLimits(scope.getKey(),
          new ScopeLimits(limits.storageHard(), limits.storageSoft(), limits.egress(), limits.egressWindowSeconds())));
    }
    return Future.all(writes).mapEmpty();
  }

  /**
   * One refresh: the configuration if it was never written, the settings (written again if the store
   * lost them), then system usage, into the guard.
   */
  public Future<Void> refresh() {
    // If the store could not be reached at start, the configuration still has to go in first.
    Future<Void> configured = applied ? Future.succeededFuture() : apply();
    return configured.compose(v -> store.systemSettings())
        .compose(stored -> stored.isPresent()
            ? Future.succeededFuture(stored.get())
            : apply().map(v -> {
              LOG.warn("quota settings were missing from the store (was its data lost?); written again from the configuration");
              return systemSettings();
            }))
        .compose(settings -> store.systemUsage().map(usage -> {
          guard.update(usage, settings);
          return (Void) null;
        }))
        .onComplete(done -> {
          if (done.failed() && !lastRefreshFailed) {
            LOG.error("system usage not refreshed, quota store unreachable: {}", done.cause().toString());
          } else if (done.succeeded() && lastRefreshFailed) {
            LOG.info("system usage refreshed again");
          }
          lastRefreshFailed = done.failed();
        });
  }

  /** Refreshes now and then every {@code quota.system.refresh}, never two at once; returns the timer id. */
  public long keepRefreshed(Vertx vertx) {
    refreshUnlessRunning();
    return vertx.setPeriodic(config.system().refresh().toMillis(), id -> refreshUnlessRunning());
  }

  private void refreshUnlessRunning() {
    if (!refreshing) {
      refreshing = true;
      refresh().onComplete(done -> refreshing = false);
    }
  }

  private SystemSettings systemSettings() {
    ProxyConfig.SystemQuota system = config.system();
    return new SystemSettings(system.hardStorage(), system.writeRatio(), system.readOnlyForced());
  }
}
