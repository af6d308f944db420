package dev.quotaproxy.ledger.reports;

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
 */
public record ReportQuery(By by, Period period, Optional<ScopeSet> scopes, Map<String, ScopeSet> groups) {
  public ReportQuery {
    groups = java.util.Collections.unmodifiableMap(new TreeMap<>(groups));
  }
}
