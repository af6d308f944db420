package dev.quotaproxy.ledger;

import dev.quotaproxy.oci.Scopes;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * The counts count limits hold to, per scope, from what each repository holds: {@code repositories},
 * those at or under the scope that link at least one blob or manifest, and {@code manifests}, the
 * manifests they hold. The ledger's links and manifests are the record (kept to the registry's catalog
 * and tags by reconciliation), so Redis's counts are rebuilt and checked from these. Pure.
 */
public record CountsByScope(long repositories, long manifests) {

  /** Per scope, from each repository's number of links and of manifests (a repository missing from one map holds none there). */
  public static Map<String, CountsByScope> rollUp(Map<String, Long> linksPerRepository, Map<String, Long> manifestsPerRepository) {
    Map<String, long[]> sums = new TreeMap<>();
    linksPerRepository.forEach((repository, links) -> {
      if (links > 0) {
        Scopes.of(repository).forEach(scope -> sums.computeIfAbsent(scope, s -> new long[2])[0]++);
      }
    });
    manifestsPerRepository.forEach((repository, manifests) -> {
      if (manifests > 0) {
        Scopes.of(repository).forEach(scope -> sums.computeIfAbsent(scope, s -> new long[2])[1] += manifests);
      }
    });
    Map<String, CountsByScope> counts = new TreeMap<>();
    sums.forEach((scope, sum) -> counts.put(scope, new CountsByScope(sum[0], sum[1])));
    return Collections.unmodifiableMap(counts);
  }
}
