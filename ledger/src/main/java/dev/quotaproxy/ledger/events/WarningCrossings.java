package dev.quotaproxy.ledger.events;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Where a batch of storage changes takes a scope from below its soft limit to at or above it. Pure: the ledger
 * replays its changes through this in the transaction that applies them, with the scopes' rows locked, so each
 * crossing is found once, by one batch.
 *
 * <p>At most one warning per crossing: a change that stays at or above the limit is none, a change that goes
 * below it and a later one that crosses again are a second one. Usage never goes below 0, as in the ledger's own
 * replay ({@code LedgerBatch#replayStorage}), so the levels here are the ones it records.
 */
public final class WarningCrossings {
  private WarningCrossings() {}

  /** A scope's used bytes going up (a blob charged) or down (freed), in event order. */
  public record UsageChange(String scope, long delta, Instant at) {}

  /** The change at {@code at} took {@code scope} to {@code usage}, at or above {@code softLimit}, from below it. */
  public record Crossing(String scope, Instant at, long usageBefore, long usage, long softLimit) {}

  /**
   * @param before     each scope's usage before the changes (absent: 0)
   * @param changes    in the order they happened
   * @param softLimits soft limits in bytes of the scopes that have one (absent, or -1: none)
   */
  public static List<Crossing> find(Map<String, Long> before, List<UsageChange> changes, Map<String, Long> softLimits) {
    Map<String, Long> level = new HashMap<>(before);
    List<Crossing> crossings = new ArrayList<>();
    for (UsageChange change : changes) {
      long was = level.getOrDefault(change.scope(), 0L);
      long now = Math.max(0, was + change.delta());
      level.put(change.scope(), now);
      long soft = softLimits.getOrDefault(change.scope(), -1L);
      if (soft >= 0 && was < soft && now >= soft) {
        crossings.add(new Crossing(change.scope(), change.at(), was, now, soft));
      }
    }
    return crossings;
  }
}
