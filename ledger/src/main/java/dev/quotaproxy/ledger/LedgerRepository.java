package dev.quotaproxy.ledger;

import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * What the ledger holds for one repository, read for a reconciliation.
 *
 * @param links     digest -> size of every blob linked to it (layers, configs and manifests)
 * @param manifests manifest digest -> the digests it references
 */
record LedgerRepository(String repository, Map<String, Long> links, Map<String, Set<String>> manifests) {
  LedgerRepository {
    links = Map.copyOf(links);
    manifests = Map.copyOf(manifests);
  }

  /** Every digest some manifest of the repository references. */
  Set<String> referenced() {
    Set<String> referenced = new HashSet<>();
    manifests.values().forEach(referenced::addAll);
    return referenced;
  }
}
