package dev.quotaproxy.metering;

import io.vertx.core.Future;
import java.util.List;

/**
 * Makes a namespace's state known again in Redis when a script found its marker missing: restores it
 * from the ledger when the ledger knows the namespace (Redis lost it), or marks it as new. Either way
 * the namespace is listed in {@link QuotaKeys#NAMESPACES} before its marker is set.
 */
@FunctionalInterface
public interface NamespaceRecovery {
  Future<Void> ensureKnown(String namespace);

  /**
   * Every namespace known outside Redis (the ledger's), which a census of {@link QuotaKeys#NAMESPACES}
   * must list whether or not Redis still holds anything of them. None without a ledger.
   */
  default Future<List<String>> namespacesOutsideRedis() {
    return Future.succeededFuture(List.of());
  }
}
