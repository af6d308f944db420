package dev.quotaproxy.ledger.limits;

import io.vertx.core.json.JsonObject;

/**
 * A scope's limits as recorded: bytes, -1 for none; the egress window in seconds.
 *
 * @param storageHard         bytes the scope may hold, or -1
 * @param storageSoft         bytes past which the scope is warned about, or -1
 * @param egress              bytes the scope's pulls may take per window, or -1
 * @param egressWindowSeconds length of the window egress is counted in
 */
public record Limits(long storageHard, long storageSoft, long egress, long egressWindowSeconds) {
  /** What a scope without a row has, and what deleting a scope's limits leaves. */
  public static final Limits UNLIMITED = new Limits(-1, -1, -1, 3600);

  /** No limit at all: the window alone does not make a limit. */
  public boolean unlimited() {
    return storageHard < 0 && storageSoft < 0 && egress < 0;
  }

  public JsonObject toJson() {
    return new JsonObject().put("storage_hard", storageHard).put("storage_soft", storageSoft).put("egress", egress)
        .put("egress_window_seconds", egressWindowSeconds);
  }
}
