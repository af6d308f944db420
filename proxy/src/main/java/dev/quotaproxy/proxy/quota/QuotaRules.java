package dev.quotaproxy.proxy.quota;

/** Gives each exchange the quota rules of its operation. */
@FunctionalInterface
public interface QuotaRules {
  /** No quotas: every exchange passes as it is (a proxy run without a metering store, and tests of plain proxying). */
  QuotaRules NONE = exchange -> ExchangeQuota.NONE;

  ExchangeQuota forExchange(ExchangeView exchange);
}
