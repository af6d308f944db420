package dev.quotaproxy.admin.limits;

import dev.quotaproxy.metering.ScopeUsage;
import java.util.Comparator;
import java.util.List;
import java.util.function.Predicate;

/**
 * The scope list: which scopes are in it (a limit, usage or bytes in flight), in which order, which
 * page. Pure.
 */
public final class ScopeListing {
  public enum Sort { USAGE, NAME, RATIO }

  public record Page(long total, List<ScopeUsage> scopes) {}

  private ScopeListing() {}

  /**
   * Used bytes over the hard limit; null when the scope has no hard limit. A limit of 0 with usage is
   * reported as 1 (full) rather than an infinity JSON cannot carry.
   */
  public static Double ratio(ScopeUsage scope) {
    long hard = scope.limits().storageHard();
    if (hard < 0) {
      return null;
    }
    return hard == 0 ? 1.0 : (double) scope.used() / hard;
  }

  public static boolean listed(ScopeUsage scope) {
    return scope.used() > 0 || scope.reserved() > 0 || !scope.limits().unlimited() || scope.counts().repositories() > 0
        || scope.counts().repositoriesReserved() > 0;
  }

  public static Page page(List<ScopeUsage> all, Predicate<String> visible, Sort sort, boolean descending, int offset, int limit) {
    Comparator<ScopeUsage> byName = Comparator.comparing(ScopeUsage::scope);
    Comparator<ScopeUsage> order = switch (sort) {
      case NAME -> byName;
      case USAGE -> Comparator.comparingLong(ScopeUsage::used);
      // Scopes without a hard limit have no ratio: they sort below every ratio.
      case RATIO -> Comparator.comparingDouble(scope -> {
        Double ratio = ratio(scope);
        return ratio == null ? -1 : ratio;
      });
    };
    if (descending) {
      order = order.reversed();
    }
    // Ties in name order whichever way the list goes, so pages are stable.
    order = order.thenComparing(byName);
    List<ScopeUsage> listed = all.stream().filter(ScopeListing::listed).filter(scope -> visible.test(scope.scope())).sorted(order).toList();
    int from = Math.min(offset, listed.size());
    return new Page(listed.size(), listed.subList(from, Math.min(listed.size(), from + limit)));
  }
}
