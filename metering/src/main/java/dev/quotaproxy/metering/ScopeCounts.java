package dev.quotaproxy.metering;

/**
 * A scope's counts (see common.lua, Counts): repositories under it holding a blob or manifest, and the
 * manifests they hold; each with the slots pushes in flight hold for new ones, not committed yet.
 */
public record ScopeCounts(long repositories, long repositoriesReserved, long manifests, long manifestsReserved) {
  public static final ScopeCounts NONE = new ScopeCounts(0, 0, 0, 0);
}
