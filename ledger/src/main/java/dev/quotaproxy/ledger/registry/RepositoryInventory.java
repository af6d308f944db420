package dev.quotaproxy.ledger.registry;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What the registry holds for one repository, as its API shows it: every digest reachable from its tags
 * (manifests, child manifests of indexes, configs, layers) with its size, and the manifests with what
 * each references. Blobs uploaded but referenced by no manifest are not here: the API cannot list them.
 *
 * @param blobs     digest -> size of everything the repository holds, manifests included (a manifest's size
 *                  is its body's length)
 * @param manifests manifest digest -> the manifest
 * @param missing   digests a manifest references (or a caller asked for) that the registry answered 404
 *                  for: a blob deleted straight in the registry, a child manifest never pushed
 */
public record RepositoryInventory(String repository, Map<String, Long> blobs, Map<String, Manifest> manifests,
    Set<String> missing) {

  /**
   * @param references what the manifest names, in its order: config and layers (and {@code blobs}) of an
   *                   image manifest, the child manifests of an index
   */
  public record Manifest(String digest, String mediaType, long size, List<String> references) {
    public Manifest {
      references = List.copyOf(references);
    }
  }

  public RepositoryInventory {
    blobs = Map.copyOf(blobs);
    manifests = Map.copyOf(manifests);
    missing = Set.copyOf(missing);
  }

  public static RepositoryInventory empty(String repository) {
    return new RepositoryInventory(repository, Map.of(), Map.of(), Set.of());
  }

  /** Both together; a digest held by either is not missing. */
  public RepositoryInventory merge(RepositoryInventory other) {
    Map<String, Long> allBlobs = new HashMap<>(blobs);
    allBlobs.putAll(other.blobs);
    Map<String, Manifest> allManifests = new HashMap<>(manifests);
    allManifests.putAll(other.manifests);
    Set<String> allMissing = new HashSet<>(missing);
    allMissing.addAll(other.missing);
    allMissing.removeAll(allBlobs.keySet());
    return new RepositoryInventory(repository, allBlobs, allManifests, allMissing);
  }

  /** Total bytes of the distinct digests held: the repository's own scope usage. */
  public long bytes() {
    return blobs.values().stream().mapToLong(Long::longValue).sum();
  }
}
