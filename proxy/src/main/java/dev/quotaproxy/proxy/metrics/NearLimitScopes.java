package dev.quotaproxy.proxy.metrics;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Picks the scopes worth a gauge of their own: those with a hard storage limit whose usage is at least
 * {@code threshold} of it, the fullest {@code max} of them. A gauge per scope would make one time series
 * per namespace and repository, unbounded; this keeps the label's values to at most {@code max},
 * and to the scopes an operator has to act on. Pure.
 */
public final class NearLimitScopes {
  /** A scope's committed usage and its hard limit (bytes; -1 for none). */
  public record ScopeUsage(String scope, long used, long hardLimit) {
    /**
     * Usage as a share of the limit. A limit of 0 refuses every push: such a scope is full (1) while
     * empty, and infinitely over once anything is in it.
     */
    public double ratio() {
      if (hardLimit > 0) {
        return (double) used / hardLimit;
      }
      return used == 0 ? 1.0 : Double.POSITIVE_INFINITY;
    }
  }

  private static final Comparator<ScopeUsage> FULLEST_FIRST =
      Comparator.comparingDouble(ScopeUsage::ratio).reversed().thenComparing(ScopeUsage::scope);

  private final double threshold;
  private final int max;

  /**
   * @param threshold share of the hard limit from which a scope is near it (0.8 for 80%)
   * @param max       most scopes reported at once
   */
  public NearLimitScopes(double threshold, int max) {
    if (!(threshold >= 0) || max < 0) {
      throw new IllegalArgumentException("threshold must be >= 0 and max >= 0: " + threshold + ", " + max);
    }
    this.threshold = threshold;
    this.max = max;
  }

  public double threshold() {
    return threshold;
  }

  public int max() {
    return max;
  }

  /** The scopes near their limits, fullest first (ties by name, so the choice is stable between refreshes). */
  public List<ScopeUsage> select(List<ScopeUsage> scopes) {
    List<ScopeUsage> near = new ArrayList<>();
    for (ScopeUsage scope : scopes) {
      if (scope.hardLimit() >= 0 && scope.ratio() >= threshold) {
        near.add(scope);
      }
    }
    near.sort(FULLEST_FIRST);
    return near.size() > max ? List.copyOf(near.subList(0, max)) : near;
  }
}
