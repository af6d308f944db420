package dev.quotaproxy.ledger;

import java.time.Instant;
import java.util.HashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * What the ledger holds for one repository, read for a reconciliation.
 *
 * @param links     digest -> size of every blob linked to it (layers, configs and manifests)
 * @param manifests manifest digest -> the digests it references
 * @param linkedAt  digest -> when its link was made (a link removed and made again has a new time)
 * @param pushedAt  manifest digest -> when it was recorded
 */
record LedgerRepository(String repository, Map<String, Long> links, Map<String, Set<String>> manifests,
    Map<String, Instant> linkedAt, Map<String, Instant> pushedAt) {
  LedgerRepository {
    links = Map.copyOf(links);
    manifests = Map.copyOf(manifests);
    linkedAt = Map.copyOf(linkedAt);
    pushedAt = Map.copyOf(pushedAt);
  }

  /** Without the times (then {@link #changedSince} sees only what is linked and referenced). */
  LedgerRepository(String repository, Map<String, Long> links, Map<String, Set<String>> manifests) {
    this(repository, links, manifests, Map.of(), Map.of());
  }

  /** Every digest some manifest of the repository references. */
  Set<String> referenced() {
    Set<String> referenced = new HashSet<>();
    manifests.values().forEach(referenced::addAll);
    return referenced;
  }

  /**
   * The digests whose record differs between {@code before} and this later read: a link made, removed
   * or made again, a manifest recorded, removed or recorded again, and everything such a manifest
   * references. Events applied between the two reads changed them, and may be newer than anything a
   * reconciliation saw in the registry meanwhile.
   */
  Set<String> changedSince(LedgerRepository before) {
    Set<String> changed = new HashSet<>();
    Set<String> linked = new HashSet<>(links.keySet());
    linked.addAll(before.links.keySet());
    for (String digest : linked) {
      if (links.containsKey(digest) != before.links.containsKey(digest)
          || !Objects.equals(linkedAt.get(digest), before.linkedAt.get(digest))) {
        changed.add(digest);
      }
    }
    Set<String> recorded = new HashSet<>(manifests.keySet());
    recorded.addAll(before.manifests.keySet());
    for (String digest : recorded) {
      Set<String> now = manifests.get(digest);
      Set<String> then = before.manifests.get(digest);
      if (!Objects.equals(now, then) || !Objects.equals(pushedAt.get(digest), before.pushedAt.get(digest))) {
        changed.add(digest);
        if (now != null) {
          changed.addAll(now);
        }
        if (then != null) {
          changed.addAll(then);
        }
      }
    }
    return changed;
  }
}
