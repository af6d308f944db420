package dev.quotaproxy.admin;

import dev.quotaproxy.config.Limits;
import dev.quotaproxy.config.SystemSettings;
import dev.quotaproxy.metering.ScopeUsage;
import dev.quotaproxy.metering.SystemUsage;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.util.List;

/**
 * The live side of limits and usage: the metering store every proxy instance decides from (Redis),
 * and reconciliation. The admin API records a change in Postgres first, then applies it here so the
 * next request of every instance sees it. Implemented by the proxy.
 */
public interface QuotaControl {

  /** The usage cannot be told now: the store cannot be reached, or the namespace's state is not known and cannot be restored. */
  final class UsageUnavailableException extends RuntimeException {
    public UsageUnavailableException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** One scope's usage, its namespace's state restored first if the store lost it; fails with {@link UsageUnavailableException}. */
  Future<ScopeUsage> scope(String scope);

  /** Every scope the store holds usage, reservations or limits for (egress usage not filled in: 0). */
  Future<List<ScopeUsage>> scopes();

  /**
   * Puts a scope's limits where every decision reads them, unless a newer revision is there already
   * (a periodic sync with an older copy lost the race): revisions only move forward.
   */
  Future<Void> applyLimits(String scope, Limits limits, long revision);

  /** Puts the system settings the proxies decide from, with the same revision rule as {@link #applyLimits}. */
  Future<Void> applySystem(SystemSettings settings, long revision);

  Future<SystemUsage> systemUsage();

  /** Reconciles Redis with the ledger, then the ledger with the registry; the drift found, as JSON. */
  Future<JsonObject> reconcileNow();
}
