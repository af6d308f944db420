package dev.quotaproxy.metering;

import dev.quotaproxy.oci.Scopes;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * This process's knowledge of which scopes have an egress limit, so that a pull into scopes without one
 * does not wait on Redis. Filled from every limit this process writes to Redis (the file's, the admin
 * API's on this proxy) and replaced by each full refresh from the ledger ({@code LimitsSync}, every 10 s),
 * which brings the changes other proxies made. Until the first refresh it knows nothing and every pull asks
 * Redis, as does a pull into a scope it believes limited: a mistake here only ever costs a round trip,
 * except for a limit set on another proxy less than a refresh ago, whose first pulls are not counted in its
 * window.
 */
public final class EgressLimits {
  /** A scope's egress limit at a revision; {@code limited} false for none ({@code -1}). */
  private record Entry(long revision, boolean limited) {}

  /** A scope's limits as the ledger records them, for {@link #replaceAll}. */
  public record Recorded(String scope, long egressLimit, long revision) {}

  private final Map<String, Entry> scopes = new ConcurrentHashMap<>();
  private volatile boolean known;

  /** A limit written to Redis at {@code revision}: kept unless a newer revision is known. */
  public void put(String scope, long egressLimit, long revision) {
    scopes.merge(scope, new Entry(revision, egressLimit != -1), (old, updated) -> updated.revision() >= old.revision() ? updated : old);
  }

  /**
   * Every scope's limits as the ledger records them now: scopes it no longer lists have no limit. A
   * revision newer than the record's, written meanwhile, is kept.
   */
  public void replaceAll(Collection<Recorded> recorded) {
    Map<String, Recorded> byScope = new ConcurrentHashMap<>();
    recorded.forEach(record -> byScope.put(record.scope(), record));
    scopes.keySet().removeIf(scope -> !byScope.containsKey(scope));
    recorded.forEach(record -> put(record.scope(), record.egressLimit(), record.revision()));
    known = true;
  }

  /** Whether some scope of the repository's path may have an egress limit (true while nothing is known). */
  public boolean anyOnPathOf(String repository) {
    if (!known) {
      return true;
    }
    List<String> path = Scopes.of(repository);
    for (String scope : path) {
      Entry entry = scopes.get(scope);
      if (entry != null && entry.limited()) {
        return true;
      }
    }
    return false;
  }
}
