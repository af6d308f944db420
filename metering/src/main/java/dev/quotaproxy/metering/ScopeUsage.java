package dev.quotaproxy.metering;

import dev.quotaproxy.config.Limits;

/**
 * A scope's usage and the limits in force, as the admin API and the gauges read them.
 *
 * @param used       committed bytes
 * @param reserved   bytes in flight (uploads not yet committed)
 * @param egressUsed bytes pulled in the scope's current egress window (0 where it is not read: see {@link UsageReader#scopes()})
 * @param counts     repositories and manifests, committed and in flight
 */
public record ScopeUsage(String scope, long used, long reserved, long egressUsed, Limits limits, ScopeCounts counts) {
  /** A scope whose counts are all 0. */
  public ScopeUsage(String scope, long used, long reserved, long egressUsed, Limits limits) {
    this(scope, used, reserved, egressUsed, limits, ScopeCounts.NONE);
  }
}
