package dev.quotaproxy.proxy.metrics;

import dev.quotaproxy.metering.ScopeUsage;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Picks the scopes worth a gauge of their own: those with a hard limit (storage, repositories or
 * manifests) whose usage is at least {@code threshold} of it, the fullest {@code max} of them. A gauge per scope would make one time series
 * per namespace and repository, unbounded; this keeps the label's values to at most {@code max},
 * and to the scopes an operator has to act on. Pure.
 */
public final class NearLimitScopes {
  private static final Comparator<ScopeUsage> FULLEST_FIRST = Comparator.comparingDouble(NearLimitScopes::fullest).reversed()
      .thenComparing(ScopeUsage::scope);

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

  /**
   * Committed usage as a share of the hard limit. A limit of 0 refuses every push: such a scope is full
   * (1) while empty, and infinitely over once anything is in it.
   */
  public static double ratio(ScopeUsage scope) {
    long hardLimit = scope.limits().storageHard();
    if (hardLimit > 0) {
      return (double) scope.used() / hardLimit;
    }
    return scope.used() == 0 ? 1.0 : Double.POSITIVE_INFINITY;
  }

  /** A count as a share of its hard limit (-1: none), as {@link #ratio} does bytes; NaN without a limit. */
  static double countRatio(long count, long hardLimit) {
    if (hardLimit < 0) {
      return Double.NaN;
    }
    if (hardLimit > 0) {
      return (double) count / hardLimit;
    }
    return count == 0 ? 1.0 : Double.POSITIVE_INFINITY;
  }

  /**
   * The largest share of a hard limit the scope uses, over storage, repositories and manifests (those with a
   * hard limit); NaN when it has none.
   */
  public static double fullest(ScopeUsage scope) {
    double fullest = scope.limits().storageHard() >= 0 ? ratio(scope) : Double.NaN;
    for (double count : new double[] {countRatio(scope.counts().repositories(), scope.limits().repositoriesHard()),
        countRatio(scope.counts().manifests(), scope.limits().manifestsHard())}) {
      if (!Double.isNaN(count) && (Double.isNaN(fullest) || count > fullest)) {
        fullest = count;
      }
    }
    return fullest;
  }

  /** Whether the scope has a hard limit (of storage or a count) and is at {@code threshold} of one or past. */
  public boolean near(ScopeUsage scope) {
    double fullest = fullest(scope);
    return !Double.isNaN(fullest) && fullest >= threshold;
  }

  /** The scopes near their limits, fullest first (ties by name, so the choice is stable between refreshes). */
  public List<ScopeUsage> select(List<ScopeUsage> scopes) {
    List<ScopeUsage> near = new ArrayList<>();
    for (ScopeUsage scope : scopes) {
      if (near(scope)) {
        near.add(scope);
      }
    }
    near.sort(FULLEST_FIRST);
    return near.size() > max ? List.copyOf(near.subList(0, max)) : near;
  }
}
