package dev.quotaproxy.config;

/**
 * A scope's limits (a namespace or repository path, holding every repository under it), wherever they
 * are: in the configuration file, in the ledger, in Redis. Bytes, -1 for none.
 *
 * @param storageHard         bytes the scope may hold; a push beyond it is refused
 * @param storageSoft         bytes past which usage is warned about, never refused
 * @param egress              bytes the scope's pulls may take per egress window
 * @param egressWindowSeconds length of the calendar window egress is counted in (aligned to the epoch)
 */
public record Limits(long storageHard, long storageSoft, long egress, long egressWindowSeconds) {
  /** What a scope without limits has, and what deleting a scope's limits leaves. */
  public static final Limits UNLIMITED = new Limits(-1, -1, -1, 3600);

  /** No limit at all: the window alone does not make a limit. */
  public boolean unlimited() {
    return storageHard < 0 && storageSoft < 0 && egress < 0;
  }
}
