package dev.quotaproxy.ledger.reports;

import java.math.BigDecimal;
import java.util.Collections;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * What a report covers.
 *
 * @param scopes the scopes whose rows it holds (each root and everything under it); empty: every scope.
 *               For a report by user or repository, the repositories under them.
 * @param groups for a report by group, each group's roots, already narrowed to what the caller may read
 *               and to any filter; ignored otherwise
 * @param shares for a report by group, the roots of each group taken at a share (percent, below 100);
 *               a root not in it counts whole
 */
public record ReportQuery(By by, Period period, Optional<ScopeSet> scopes, Map<String, ScopeSet> groups,
    Map<String, Map<String, BigDecimal>> shares) {
  public ReportQuery {
    groups = Collections.unmodifiableMap(new TreeMap<>(groups));
    Map<String, Map<String, BigDecimal>> copy = new TreeMap<>();
    shares.forEach((group, parts) -> {
      if (!parts.isEmpty()) {
        copy.put(group, Collections.unmodifiableMap(new TreeMap<>(parts)));
      }
    });
    shares = Collections.unmodifiableMap(copy);
  }

  public ReportQuery(By by, Period period, Optional<ScopeSet> scopes, Map<String, ScopeSet> groups) {
    this(by, period, scopes, groups, Map.of());
  }
}
