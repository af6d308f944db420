package dev.quotaproxy.proxy.quota;

import io.vertx.core.Future;

/** Gives each exchange the quota rules of its operation. */
@FunctionalInterface
public interface QuotaRules {
  /** No quotas: every exchange passes as it is (a proxy run without a metering store, and tests of plain proxying). */
  QuotaRules NONE = exchange -> ExchangeQuota.NONE;

  ExchangeQuota forExchange(ExchangeView exchange);

  /** The event loop stops: what the rules hold back (traffic counters) is written. */
  default Future<Void> close() {
    return Future.succeededFuture();
  }
}
