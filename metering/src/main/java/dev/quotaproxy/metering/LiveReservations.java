package dev.quotaproxy.metering;

import dev.quotaproxy.oci.Scopes;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The reservations of this process's requests in flight (not upload sessions, which outlive a request
 * and are checked against the registry when they close). Their records in Redis are leases the process
 * renews while the requests go on ({@link RequestLeases#keep}): a process that dies stops renewing, and
 * its reservations come back within the lease. And Redis losing them (a flush, a restart, an older
 * snapshot) does not free their room for others: the renewal re-creates them, while a restored namespace
 * makes new grants wait ({@code recovering} in common.lua).
 */
public final class LiveReservations {
  /** A reservation in flight: its repository, and the bytes it holds in each scope of it. */
  public record Live(String repository, long bytes) {}

  private final Map<String, Live> byId = new ConcurrentHashMap<>();

  /** Only requests' ids are kept: a session's bytes are the registry's, asked for when it closes. */
  static boolean kept(String id) {
    return id != null && id.startsWith("request:");
  }

  void granted(String id, String repository, long bytes) {
    if (kept(id) && bytes > 0) {
      byId.merge(id, new Live(repository, bytes), (old, more) -> new Live(old.repository(), old.bytes() + more.bytes()));
    }
  }

  /** A commit intent the request holds: renewed with its reservation, if it has one, while the request goes on. */
  void intended(String id, String repository) {
    if (kept(id)) {
      byId.putIfAbsent(id, new Live(repository, 0));
    }
  }

  /** Some bytes given back (-1: all, and the id ended). */
  void released(String id, long bytes) {
    if (bytes < 0) {
      ended(id);
      return;
    }
    // A request that gave back all its bytes may still hold a commit intent: it stays until the request ends.
    byId.computeIfPresent(id, (key, live) -> new Live(live.repository(), Math.max(0, live.bytes() - bytes)));
  }

  void ended(String id) {
    if (id != null) {
      byId.remove(id);
    }
  }

  public int size() {
    return byId.size();
  }

  /** The live reservations grouped by namespace, each as id and what it holds. */
  Map<String, List<Map.Entry<String, Live>>> byNamespace() {
    Map<String, List<Map.Entry<String, Live>>> grouped = new TreeMap<>();
    byId.forEach(
        (id, live) -> grouped.computeIfAbsent(Scopes.namespace(live.repository()), n -> new ArrayList<>()).add(Map.entry(id, live)));
    return grouped;
  }
}
