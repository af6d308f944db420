package dev.quotaproxy.ledger.limits;

import dev.quotaproxy.config.Limits;
import dev.quotaproxy.config.SystemSettings;
import io.vertx.core.json.JsonObject;

/** Limits and system settings as JSON, with the field names of the ledger's columns: the audit log's rows, and the admin API's. */
public final class LimitsJson {
  private LimitsJson() {}

  public static JsonObject of(Limits limits) {
    return new JsonObject().put("storage_hard", limits.storageHard()).put("storage_soft", limits.storageSoft())
        .put("egress", limits.egress())
        .put("egress_window_seconds", limits.egressWindowSeconds())
        .put("repositories_hard", limits.repositoriesHard()).put("repositories_soft", limits.repositoriesSoft())
        .put("manifests_hard", limits.manifestsHard()).put("manifests_soft", limits.manifestsSoft());
  }

  public static JsonObject of(SystemSettings settings) {
    return new JsonObject().put("hard_storage", settings.hardStorage()).put("write_ratio", settings.writeRatio())
        .put("read_only_forced", settings.readOnlyForced()).put("allow_overcommit", settings.allowOvercommit())
        .put("retention_days", settings.retentionDays());
  }
}
