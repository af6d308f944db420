package dev.quotaproxy.proxy.quota;

import io.vertx.core.Future;

/**
 * Makes a namespace's state known again in Redis when a script found its marker missing: restores it
 * from the ledger when the ledger knows the namespace (Redis lost it), or marks it as new.
 */
@FunctionalInterface
public interface NamespaceRecovery {
  Future<Void> ensureKnown(String namespace);
}
