package dev.quotaproxy.ledger.limits;

import io.vertx.core.json.JsonObject;

/**
 * The system scope's settings as recorded.
 *
 * @param hardStorage     bytes the whole registry may hold, or -1
 * @param writeRatio      fraction of hardStorage (above 0, at most 1) at which the registry turns read-only
 * @param readOnlyForced  read-only set by hand, whatever the usage
 * @param allowOvercommit top-level hard limits may add up to more than hardStorage
 * @param retentionDays   days hourly usage rows are kept before they are rolled up to days
 */
public record SystemSettings(long hardStorage, double writeRatio, boolean readOnlyForced, boolean allowOvercommit, int retentionDays) {
  public static final SystemSettings DEFAULTS = new SystemSettings(-1, 1.0, false, false, 30);

  public JsonObject toJson() {
    return new JsonObject().put("hard_storage", hardStorage).put("write_ratio", writeRatio).put("read_only_forced", readOnlyForced)
        .put("allow_overcommit", allowOvercommit).put("retention_days", retentionDays);
  }
}
