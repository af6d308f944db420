package dev.quotaproxy.proxy.quota;

import dev.quotaproxy.metering.RedisLimits;
import dev.quotaproxy.metering.SystemUsageUnknownException;
import dev.quotaproxy.metering.UsageReader;
import dev.quotaproxy.config.ProxyConfig;
import dev.quotaproxy.metering.schedule.Periodic;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Puts the limits and system settings where every decision reads them (the store), and keeps the
 * process's {@link SystemGuard} current: every refresh reads the system settings and sums system usage.
 * Settings found missing (the store lost its data) are written again. What is written comes from a
 * filler: the proxy's is the ledger (Postgres, the record of limits set by the configuration and by the
 * admin API).
 */
public final class ConfiguredQuotas {
  private static final Logger LOG = LoggerFactory.getLogger(ConfiguredQuotas.class);

  private final RedisLimits redisLimits;
  private final UsageReader usage;
  private final ProxyConfig config;
  private final SystemGuard guard;
  private boolean applied;
  private boolean lastRefreshFailed;
  private final Supplier<Future<Void>> fill;
  private final String source;

  /**
   * @param redisLimits where the system settings are read back from
   * @param usage       where system usage is summed
   * @param config      how often to refresh, and the settings the guard takes if the store has none even after a fill
   * @param fill        writes every limit and the system settings to the store
   * @param source      where {@code fill} takes them from, for the log
   */
  public ConfiguredQuotas(RedisLimits redisLimits, UsageReader usage, ProxyConfig config, SystemGuard guard, Supplier<Future<Void>> fill,
      String source) {
    this.redisLimits = redisLimits;
    this.usage = usage;
    this.config = config;
    this.guard = guard;
    this.fill = fill;
    this.source = source;
  }

  /** Writes every scope limit and the system settings. */
  public Future<Void> apply() {
    return fill.get().onSuccess(v -> applied = true);
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
    return configured.compose(v -> redisLimits.systemSettings())
        .compose(found -> found.isPresent()
            ? Future.succeededFuture(found.get())
            : apply().compose(v -> redisLimits.systemSettings()).map(written -> {
              LOG.warn("quota settings were missing from the store (was its data lost?); written again from {}", source);
              return written.orElse(config.systemSettings());
            }))
        .compose(settings -> usage.systemUsage().map(system -> {
          guard.update(system, settings);
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
    return Periodic.nowAndEvery(vertx, config.quota().system().refresh().toMillis(), this::refresh, done -> {});
  }
}
