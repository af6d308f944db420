package dev.quotaproxy.ledger;

import dev.quotaproxy.ledger.registry.RepositoryInventory;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What must change in the ledger for one repository to match what the registry holds. Pure: the
 * requests that settle doubtful digests are made before, and their answers passed in.
 *
 * <p>The rules, for a digest the ledger links but the registry's tags do not reach:
 * <ul>
 *   <li>a manifest of the ledger: fetched by digest ({@link #manifestsToCheck}); still there (an untagged
 *       manifest), it is walked like a tagged one; gone (404), it leaves with its references;</li>
 *   <li>a blob a manifest referenced, whose manifests are all gone: it leaves with them, as the proxy
 *       accounts a manifest DELETE (distribution keeps the layer link until its garbage collection, so a
 *       HEAD would keep it charged in a repository that no longer uses it);</li>
 *   <li>a blob a manifest references that the registry answered 404 for (deleted straight in the
 *       registry): it leaves;</li>
 *   <li>a blob no manifest of the ledger ever referenced (an upload never referenced): only a
 *       {@code HEAD} can tell ({@link #uploadsToCheck}): it stays while the registry answers 200, as it
 *       occupies storage until the registry's garbage collection, and leaves on 404.</li>
 * </ul>
 */
record RepositoryDiff(String repository,
    Map<String, Long> addBlobs, Set<String> dropBlobs,
    Set<String> addManifests, Set<String> dropManifests,
    List<Reference> addReferences, List<Reference> dropReferences) {

  record Reference(String manifest, String digest) {}

  /** Ledger manifests that no tag reaches: the registry may still hold them, untagged. */
  static Set<String> manifestsToCheck(LedgerRepository ledger, RepositoryInventory inventory) {
    Set<String> check = new HashSet<>(ledger.manifests().keySet());
    check.removeAll(inventory.manifests().keySet());
    check.removeAll(inventory.missing());
    return check;
  }

  /**
   * Ledger links that the inventory (tags, plus the untagged manifests found by
   * {@link #manifestsToCheck}) neither holds nor rules out: uploads no manifest of the ledger referenced.
   */
  static Set<String> uploadsToCheck(LedgerRepository ledger, RepositoryInventory inventory) {
    Set<String> referenced = ledger.referenced();
    Set<String> check = new HashSet<>();
    for (String digest : ledger.links().keySet()) {
      boolean settled = inventory.blobs().containsKey(digest)
          || inventory.missing().contains(digest)
          || ledger.manifests().containsKey(digest)
          || referenced.contains(digest);
      if (!settled) {
        check.add(digest);
      }
    }
    return check;
  }

  /**
   * @param inventory    the registry's, with the untagged manifests found by {@link #manifestsToCheck}
   * @param storedUploads those of {@link #uploadsToCheck} the registry answered 200 for
   */
  static RepositoryDiff between(LedgerRepository ledger, RepositoryInventory inventory, Set<String> storedUploads) {
    Map<String, Long> addBlobs = new HashMap<>();
    inventory.blobs().forEach((digest, size) -> {
      if (!ledger.links().containsKey(digest)) {
        addBlobs.put(digest, size);
      }
    });
    Set<String> dropBlobs = new HashSet<>();
    for (String digest : ledger.links().keySet()) {
      if (!inventory.blobs().containsKey(digest) && !storedUploads.contains(digest)) {
        dropBlobs.add(digest);
      }
    }

    Set<String> addManifests = new HashSet<>(inventory.manifests().keySet());
    addManifests.removeAll(ledger.manifests().keySet());
    Set<String> dropManifests = new HashSet<>(ledger.manifests().keySet());
    dropManifests.removeAll(inventory.manifests().keySet());

    // A manifest's references never change (its digest is its content), but the ledger's record of them may be wrong.
    List<Reference> addReferences = new ArrayList<>();
    List<Reference> dropReferences = new ArrayList<>();
    for (RepositoryInventory.Manifest manifest : inventory.manifests().values()) {
      Set<String> wanted = new HashSet<>(manifest.references());
      Set<String> recorded = ledger.manifests().getOrDefault(manifest.digest(), Set.of());
      wanted.stream().filter(digest -> !recorded.contains(digest)).sorted()
          .forEach(digest -> addReferences.add(new Reference(manifest.digest(), digest)));
      recorded.stream().filter(digest -> !wanted.contains(digest)).sorted()
          .forEach(digest -> dropReferences.add(new Reference(manifest.digest(), digest)));
    }
    return new RepositoryDiff(inventory.repository(), addBlobs, dropBlobs, addManifests, dropManifests,
        addReferences, dropReferences);
  }

  /** Everything that leaves the ledger's record of a repository the registry's catalog no longer lists. */
  static RepositoryDiff vanished(LedgerRepository ledger) {
    return new RepositoryDiff(ledger.repository(), Map.of(), ledger.links().keySet(), Set.of(),
        ledger.manifests().keySet(), List.of(), List.of());
  }

  /**
   * This diff without what touches {@code changed}: digests whose ledger record events changed after the
   * diff's read of the ledger. Those events may be newer than the registry's answers, so they are left
   * as the events made them; the next reconciliation judges them again.
   */
  RepositoryDiff without(Set<String> changed) {
    if (changed.isEmpty()) {
      return this;
    }
    Map<String, Long> keptAdds = new HashMap<>(addBlobs);
    keptAdds.keySet().removeAll(changed);
    Set<String> keptDrops = new HashSet<>(dropBlobs);
    keptDrops.removeAll(changed);
    Set<String> keptManifestAdds = new HashSet<>(addManifests);
    keptManifestAdds.removeAll(changed);
    Set<String> keptManifestDrops = new HashSet<>(dropManifests);
    keptManifestDrops.removeAll(changed);
    return new RepositoryDiff(repository, keptAdds, keptDrops, keptManifestAdds, keptManifestDrops,
        untouched(addReferences, changed), untouched(dropReferences, changed));
  }

  private static List<Reference> untouched(List<Reference> references, Set<String> changed) {
    return references.stream()
        .filter(reference -> !changed.contains(reference.manifest()) && !changed.contains(reference.digest()))
        .toList();
  }

  boolean isEmpty() {
    return addBlobs.isEmpty() && dropBlobs.isEmpty() && addManifests.isEmpty() && dropManifests.isEmpty()
        && addReferences.isEmpty() && dropReferences.isEmpty();
  }
}
