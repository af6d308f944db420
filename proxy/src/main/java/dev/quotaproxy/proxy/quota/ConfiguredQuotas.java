package dev.quotaproxy.proxy.quota;

import dev.quotaproxy.metering.QuotaStore;
import dev.quotaproxy.metering.SystemUsageUnknownException;
import dev.quotaproxy.config.ProxyConfig;
import dev.quotaproxy.config.ScopeLimitsConfig;
import dev.quotaproxy.metering.QuotaStore.ScopeLimits;
import dev.quotaproxy.metering.QuotaStore.SystemSettings;
import dev.quotaproxy.metering.schedule.Periodic;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Puts the limits and system settings where every decision reads them (the store), and keeps the
 * process's {@link SystemGuard} current: every refresh reads the system settings and sums system usage.
 * Settings found missing (the store lost its data) are written again. What is written comes from a
 * filler: the proxy's is the ledger (Postgres, the record of limits set by the configuration and by the
 * admin API); without one, the configuration itself.
 */
public final class ConfiguredQuotas {
  private static final Logger LOG = LoggerFactory.getLogger(ConfiguredQuotas.class);

  private final QuotaStore store;
  private final ProxyConfig.Quota config;
  private final SystemGuard guard;
  private boolean applied;
  private boolean lastRefreshFailed;
  private final Supplier<Future<Void>> fill;
  private final String source;

  /** Limits and settings from the configuration alone. */
  public ConfiguredQuotas(QuotaStore store, ProxyConfig.Quota config, SystemGuard guard) {
    this(store, config, guard, null, "the configuration");
  }

  /**
   * @param fill   writes every limit and the system settings to the store; null for the configuration's
   * @param source where {@code fill} takes them from, for the log
   */
  public ConfiguredQuotas(QuotaStore store, ProxyConfig.Quota config, SystemGuard guard, Supplier<Future<Void>> fill, String source) {
    this.store = store;
    this.config = config;
    this.guard = guard;
    this.fill = fill == null ? this::writeConfigured : fill;
    this.source = source;
  }

  /** Writes every scope limit and the system settings. */
  public Future<Void> apply() {
    return fill.get().onSuccess(v -> applied = true);
  }

  /** Writes the configured limits of every scope of one namespace (for a restore without a ledger of limits). */
  public Future<Void> writeLimitsOf(String namespace) {
    List<Future<Void>> writes = new ArrayList<>();
    for (Map.Entry<String, ScopeLimitsConfig> scope : config.scopes().entrySet()) {
      if (dev.quotaproxy.oci.Scopes.namespace(scope.getKey()).equals(namespace)) {
        ScopeLimitsConfig limits = scope.getValue();
        writes.add(store.putLimits(scope.getKey(),
            new ScopeLimits(limits.storageHard(), limits.storageSoft(), limits.egress(), limits.egressWindowSeconds())));
      }
    }
    return Future.all(writes).mapEmpty();
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
   * lost them), then system usage, into the guard. System usage the store cannot sum yet (it lost its
   * parts) makes the guard's state unknown, which refuses pushes; other failures (Redis unreachable)
   * leave the last state, since every push then fails on its own store call anyway.
   */
  public Future<Void> refresh() {
    // If the store could not be reached at start, the configuration still has to go in first.
    Future<Void> configured = applied ? Future.succeededFuture() : apply();
    return configured.compose(v -> store.systemSettings())
        .compose(stored -> stored.isPresent()
            ? Future.succeededFuture(stored.get())
            : apply().compose(v -> store.systemSettings()).map(written -> {
              LOG.warn("quota settings were missing from the store (was its data lost?); written again from {}", source);
              return written.orElse(systemSettings());
            }))
        .compose(settings -> store.systemUsage().map(usage -> {
          guard.update(usage, settings);
          return (Void) null;
        }))
        .onFailure(e -> {
          if (e instanceof SystemUsageUnknownException) {
            guard.unknown();
          }
        })
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
    // refresh() logs its own outcome.
    return Periodic.nowAndEvery(vertx, config.system().refresh().toMillis(), this::refresh, done -> { });
  }

  private SystemSettings systemSettings() {
    ProxyConfig.SystemQuota system = config.system();
    return new SystemSettings(system.hardStorage(), system.writeRatio(), system.readOnlyForced());
  }
}
