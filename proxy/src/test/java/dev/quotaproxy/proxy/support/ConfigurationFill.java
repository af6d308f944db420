package dev.quotaproxy.proxy.support;

import dev.quotaproxy.config.Limits;
import dev.quotaproxy.config.ProxyConfig;
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
  private final ProxyConfig config;

  public ConfigurationFill(RedisLimits redisLimits, ProxyConfig config) {
    this.redisLimits = redisLimits;
    this.config = config;
  }

  /** Every scope limit and the system settings. */
  public Future<Void> all() {
    List<Future<?>> writes = new ArrayList<>();
    writes.add(redisLimits.putSystemSettings(config.systemSettings(), 0));
    writes.add(limits(scope -> true));
    return Future.all(writes).mapEmpty();
  }

  /** The configured limits of every scope of one namespace (as a restore writes them). */
  public Future<Void> limitsOf(String namespace) {
    return limits(scope -> Scopes.namespace(scope).equals(namespace));
  }

  private Future<Void> limits(java.util.function.Predicate<String> which) {
    List<Future<Boolean>> writes = new ArrayList<>();
    for (Map.Entry<String, Limits> scope : config.quota().scopes().entrySet()) {
      if (which.test(scope.getKey())) {
        writes.add(redisLimits.putLimits(scope.getKey(), scope.getValue(), 0));
      }
    }
    return Future.all(writes).mapEmpty();
  }
}
