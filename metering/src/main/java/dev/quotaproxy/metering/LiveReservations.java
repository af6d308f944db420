package dev.quotaproxy.metering;

import dev.quotaproxy.oci.Scopes;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The reservations of this process's requests in flight (not upload sessions, which outlive a request
 * and are checked against the registry when they close). Their records in Redis are leases the process
 * renews while the requests go on ({@link RequestLeases#keep}): a process that dies stops renewing, and
 * its reservations come back within the lease. And Redis losing them (a flush, a restart, an older
 * snapshot) does not free their room for others: the renewal re-creates them, while a restored namespace
 * makes new grants wait ({@code recovering} in common.lua).
 *
 * <p>It also holds what this process's requests intended (intend.lua) until their outcome is recorded. A
 * request that ends without that (the registry's answer never came, or recording it failed) leaves its
 * intent here, {@link #unsettled}: the process settles it itself with the registry ({@code RegistryIntents})
 * after {@link #SETTLE_AFTER_MILLIS}. Redis's copy of the intent is for a process that dies; it can be
 * lost with Redis's data, or come back from an older snapshot marked unconfirmed and be dropped, and the
 * registry's change would then never be accounted for.
 */
public final class LiveReservations {
  private static final Logger LOG = LoggerFactory.getLogger(LiveReservations.class);
  /**
   * How long an ended request's unrecorded intent waits before the registry is asked what it did, when it
   * never answered: a registry that lost the connection may still be finishing the request.
   */
  public static final long SETTLE_AFTER_MILLIS = 3_000;
  /** Unsettled intents held at most (a registry unreachable for long under load); more are left to Redis's copies. */
  static final int UNSETTLED_CAPACITY = 10_000;
  /** An intent the registry could not be asked about for this long is given up, left to the reconciliation. */
  static final long GIVE_UP_MILLIS = 3_600_000;

  /**
   * A reservation in flight: its repository, the bytes it holds in each scope of it, and the count slots it
   * holds (a new repository R, or R@M a manifest new to it; see count limits in common.lua).
   */
  public record Live(String repository, long bytes, Set<String> slots) {
    Live(String repository, long bytes) {
      this(repository, bytes, Set.of());
    }

    Live withBytes(long more) {
      return new Live(repository, Math.max(0, bytes + more), slots);
    }

    Live with(Live more) {
      if (more.slots.isEmpty() || slots.containsAll(more.slots)) {
        return withBytes(more.bytes);
      }
      Set<String> all = new TreeSet<>(slots);
      all.addAll(more.slots);
      return new Live(repository, bytes + more.bytes, Set.copyOf(all));
    }
  }

  private record Unsettled(Intent intent, long dueMillis) {}

  private final Map<String, Live> byId = new ConcurrentHashMap<>();
  private final Map<String, Intent> openIntents = new ConcurrentHashMap<>();
  /** Open intents whose registry answered, and whose recording failed: settled as soon as their request ends. */
  private final Set<String> answered = ConcurrentHashMap.newKeySet();
  private final Map<String, Unsettled> unsettled = new ConcurrentHashMap<>();
  private final AtomicLong notHeld = new AtomicLong();
  private final LongSupplier clock;

  public LiveReservations() {
    this(System::currentTimeMillis);
  }

  LiveReservations(LongSupplier clock) {
    this.clock = clock;
  }

  /** Only requests' ids are kept: a session's bytes are the registry's, asked for when it closes. */
  static boolean kept(String id) {
    return id != null && id.startsWith("request:");
  }

  /** A grant of bytes, and the slots the reservation holds after it (a grant of no bytes may hold a slot). */
  void granted(String id, String repository, long bytes, List<String> slots) {
    if (kept(id) && (bytes > 0 || !slots.isEmpty())) {
      byId.merge(id, new Live(repository, bytes, Set.copyOf(slots)), Live::with);
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
    byId.computeIfPresent(id, (key, live) -> live.withBytes(-bytes));
  }

  void ended(String id) {
    if (id != null) {
      byId.remove(id);
    }
  }

  public int size() {
    return byId.size();
  }

  /** Publishes the unsettled intents as a gauge, and those not held as a counter. */
  public LiveReservations measuredIn(io.micrometer.core.instrument.MeterRegistry registry) {
    io.micrometer.core.instrument.Gauge.builder("quota_proxy.intents.unsettled", unsettled, Map::size)
        .description("Intents of this proxy's ended requests whose outcome is not recorded yet: settled with the registry")
        .register(registry);
    io.micrometer.core.instrument.FunctionCounter.builder("quota_proxy.intents.not.held", notHeld, AtomicLong::get)
        .description("Unsettled intents not held because too many were: they rely on Redis's copies alone").register(registry);
    return this;
  }

  /** A request is about to record an intent: held until its outcome is recorded, whether Redis records the intent or not. */
  void intentOpened(Intent intent) {
    openIntents.put(intent.requestId(), intent);
  }

  /** What the request made the registry do is recorded, or the registry did nothing: its intent is done with. */
  void outcomeRecorded(String id) {
    if (id != null) {
      openIntents.remove(id);
      answered.remove(id);
      unsettled.remove(id);
    }
  }

  /**
   * The registry answered the request, and recording what it did failed: nothing is left to wait for, so
   * the intent is settled as soon as the request ends, before a later change to the same blob can overtake it.
   */
  void outcomeNotRecorded(String id) {
    if (id != null && openIntents.containsKey(id)) {
      answered.add(id);
    }
  }

  /** The request is over: an intent whose outcome was not recorded becomes unsettled. */
  void requestOver(String id) {
    Intent intent = id == null ? null : openIntents.remove(id);
    boolean wasAnswered = id != null && answered.remove(id);
    if (intent == null) {
      return;
    }
    if (unsettled.size() >= UNSETTLED_CAPACITY) {
      if (notHeld.getAndIncrement() == 0) {
        LOG.warn("{} unsettled intents held already: further ones rely on Redis's copies alone", UNSETTLED_CAPACITY);
      }
      return;
    }
    long now = clock.getAsLong();
    unsettled.put(id, new Unsettled(intent.endedAt(now), wasAnswered ? now : now + SETTLE_AFTER_MILLIS));
  }

  /** The unsettled intents due to be settled with the registry now (each stays until its outcome is recorded). */
  public List<Intent> dueIntents() {
    long now = clock.getAsLong();
    List<Intent> due = new ArrayList<>();
    unsettled.forEach((id, held) -> {
      if (now - held.dueMillis() > GIVE_UP_MILLIS) {
        unsettled.remove(id);
        LOG.error("{}: what request {} did with {} could not be told for an hour; left to the reconciliation",
            held.intent().repository(), id, held.intent().digest());
      } else if (held.dueMillis() <= now) {
        due.add(held.intent());
      }
    });
    return due;
  }

  /** The unsettled intents to commit {@code digest} (a blob or a manifest) in {@code repository}. */
  List<Intent> unsettledCommits(String repository, String digest) {
    List<Intent> commits = new ArrayList<>();
    unsettled.values().forEach(held -> {
      Intent intent = held.intent();
      if ((intent.what() == Intent.What.COMMIT || intent.what() == Intent.What.COMMIT_MANIFEST) && intent.repository().equals(repository)
          && intent.digest().equals(digest)) {
        commits.add(intent);
      }
    });
    return commits;
  }

  /** Intents of ended requests whose outcome is not recorded yet. */
  public int unsettledCount() {
    return unsettled.size();
  }

  /** Unsettled intents not held because {@link #UNSETTLED_CAPACITY} were held already. */
  public long notHeld() {
    return notHeld.get();
  }

  /** The live reservations grouped by namespace, each as id and what it holds. */
  Map<String, List<Map.Entry<String, Live>>> byNamespace() {
    Map<String, List<Map.Entry<String, Live>>> grouped = new TreeMap<>();
    byId.forEach(
        (id, live) -> grouped.computeIfAbsent(Scopes.namespace(live.repository()), n -> new ArrayList<>()).add(Map.entry(id, live)));
    return grouped;
  }
}
