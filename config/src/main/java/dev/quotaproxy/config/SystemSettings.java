package dev.quotaproxy.config;

/**
 * The system scope's settings: seeded from the configuration file, recorded in the ledger, changed
 * through the admin API; Redis holds the three every decision reads (see {@code RedisLimits}).
 *
 * @param hardStorage     bytes the whole registry may hold, or -1
 * @param writeRatio      fraction of hardStorage (above 0, at most 1) at which the registry turns read-only
 * @param readOnlyForced  read-only set by hand, whatever the usage
 * @param allowOvercommit top-level hard limits may add up to more than hardStorage
 * @param retentionDays   days hourly usage rows are kept before they are rolled up to days
 */
public record SystemSettings(long hardStorage, double writeRatio, boolean readOnlyForced, boolean allowOvercommit, int retentionDays) {
  public static final SystemSettings DEFAULTS = new SystemSettings(-1, 1.0, false, false, 30);
}
