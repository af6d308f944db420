package dev.quotaproxy.config;

/**
 * A scope's limits (a namespace or repository path, holding every repository under it), wherever they
 * are: in the configuration file, in the ledger, in Redis. Bytes or counts, -1 for none.
 *
 * @param storageHard         bytes the scope may hold; a push beyond it is refused
 * @param storageSoft         bytes past which usage is warned about, never refused
 * @param egress              bytes the scope's pulls may take per egress window
 * @param egressWindowSeconds length of the calendar window egress is counted in (aligned to the epoch)
 * @param repositoriesHard    repositories holding anything the scope may have; a push creating one more is refused
 * @param repositoriesSoft    repositories past which the scope is warned about
 * @param manifestsHard       manifests the repositories under the scope may hold; a push adding one more is refused
 * @param manifestsSoft       manifests past which the scope is warned about
 */
public record Limits(long storageHard, long storageSoft, long egress, long egressWindowSeconds, long repositoriesHard,
    long repositoriesSoft, long manifestsHard, long manifestsSoft) {
  /** What a scope without limits has, and what deleting a scope's limits leaves. */
  public static final Limits UNLIMITED = new Limits(-1, -1, -1, 3600);

  /** Storage and egress limits only: no count limit. */
  public Limits(long storageHard, long storageSoft, long egress, long egressWindowSeconds) {
    this(storageHard, storageSoft, egress, egressWindowSeconds, -1, -1, -1, -1);
  }

  /** These limits with the given count limits. */
  public Limits withCounts(long repositoriesHard, long repositoriesSoft, long manifestsHard, long manifestsSoft) {
    return new Limits(storageHard, storageSoft, egress, egressWindowSeconds, repositoriesHard, repositoriesSoft, manifestsHard,
        manifestsSoft);
  }

  /** No limit at all: the window alone does not make a limit. */
  public boolean unlimited() {
    return storageHard < 0 && storageSoft < 0 && egress < 0 && repositoriesHard < 0 && repositoriesSoft < 0 && manifestsHard < 0
        && manifestsSoft < 0;
  }
}
