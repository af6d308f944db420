package dev.quotaproxy.proxy.support;

import dev.quotaproxy.config.ProxyConfig;
import dev.quotaproxy.config.ScopeLimitsConfig;
import dev.quotaproxy.metering.QuotaStore.ScopeLimits;
import dev.quotaproxy.metering.QuotaStore.SystemSettings;
import dev.quotaproxy.metering.RedisLimits;
import dev.quotaproxy.oci.Scopes;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Fills Redis with a test proxy's configured limits and system settings, where the real proxy fills it
 * from the ledger. Written at revision 0: a later fill replaces an earlier one, and any revision the
 * ledger recorded wins over them.
 */
public final class ConfigurationFill {
  private final RedisLimits redisLimits;
  private final ProxyConfig.Quota config;

  public ConfigurationFill(RedisLimits redisLimits, ProxyConfig.Quota config) {
    this.redisLimits = redisLimits;
    this.config = config;
  }

  /** Every scope limit and the system settings. */
  public Future<Void> all() {
    ProxyConfig.SystemQuota system = config.system();
    List<Future<?>> writes = new ArrayList<>();
    writes.add(redisLimits.putSystemSettings(new SystemSettings(system.hardStorage(), system.writeRatio(), system.readOnlyForced()), 0));
    writes.add(limits(scope -> true));
    return Future.all(writes).mapEmpty();
  }

  /** The configured limits of every scope of one namespace (as a restore writes them). */
  public Future<Void> limitsOf(String namespace) {
    return limits(scope -> Scopes.namespace(scope).equals(namespace));
  }

  private Future<Void> limits(java.util.function.Predicate<String> which) {
    List<Future<Boolean>> writes = new ArrayList<>();
    for (Map.Entry<String, ScopeLimitsConfig> scope : config.scopes().entrySet()) {
      if (which.test(scope.getKey())) {
        ScopeLimitsConfig limits = scope.getValue();
        writes.add(redisLimits.putLimits(scope.getKey(),
            new ScopeLimits(limits.storageHard(), limits.storageSoft(), limits.egress(), limits.egressWindowSeconds()), 0));
      }
    }
    return Future.all(writes).mapEmpty();
  }
}
