package dev.quotaproxy.ledger;

import dev.quotaproxy.oci.Scopes;
import dev.quotaproxy.ledger.LedgerEvent.BlobAdded;
import dev.quotaproxy.ledger.LedgerEvent.BlobRemoved;
import dev.quotaproxy.ledger.LedgerEvent.IntentClosed;
import dev.quotaproxy.ledger.LedgerEvent.IntentOpened;
import dev.quotaproxy.ledger.LedgerEvent.ManifestAdded;
import dev.quotaproxy.ledger.LedgerEvent.ManifestRemoved;
import dev.quotaproxy.ledger.LedgerEvent.Rejected;
import dev.quotaproxy.ledger.LedgerEvent.TrafficMetered;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * What a batch of events not applied before changes, reduced to the rows each table needs, so that
 * the whole batch costs one statement per table instead of one per event. Pure: no database.
 *
 * <p>Order within the batch matters where one key is touched twice (a blob unlinked and linked
 * again, a manifest deleted and pushed again, a scope's usage going up and down), and the
 * reduction keeps its effect: the rows it gives equal applying the events one by one.
 *
 * <p>Over 350 lines: every table a batch writes is reduced here, storage and counts replayed side by side,
 * so that one reading shows that each reduction equals applying the events in order.
 */
final class LedgerBatch {

  /** A digest in a repository: a link in {@code repository_blobs}, or a manifest. */
  record RepositoryDigest(String repository, String digest) {}

  /** A row of {@code manifest_references}. */
  record RepositoryReference(String repository, String manifestDigest, String digest) {}

  record ScopeHour(String scope, Instant hour) {}

  /** A request's intent in a namespace: a row of {@code open_intents}. */
  record NamespaceRequest(String namespace, String requestId) {}

  record UserHour(String user, String repository, Instant hour) {}

  record Traffic(long ingressBytes, long egressBytes, long pushes, long pulls) {
    static final Traffic NONE = new Traffic(0, 0, 0, 0);

    Traffic plus(Traffic other) {
      return new Traffic(ingressBytes + other.ingressBytes, egressBytes + other.egressBytes,
          pushes + other.pushes, pulls + other.pulls);
    }
  }

  /**
   * One row of {@code usage_hourly} to merge: where storage and each count went in the hour (null: that figure did not
   * change in it), and traffic to add.
   */
  record HourlyUsage(Level storage, Level repositories, Level manifests, Traffic traffic) {}

  /**
   * Where one figure went in an hour: the highest it reached, and where the hour's last change left it (what the
   * hours after it hold until the next change; reports carry it, not the high water, so a delete shows).
   */
  record Level(long highWater, long close) {
    /** The hour's changes so far, then later ones: the higher high water, and the later close. Either may be null. */
    static Level then(Level earlier, Level later) {
      if (earlier == null) {
        return later;
      }
      return later == null ? earlier : new Level(Math.max(earlier.highWater, later.highWater), later.close);
    }

    /** A change from {@code before} to {@code after}: the hour saw both. */
    static Level change(long before, long after) {
      return new Level(Math.max(before, after), after);
    }
  }

  /** A scope's counts (see {@link CountsByScope}). */
  record Counts(long repositories, long manifests) {
    static final Counts NONE = new Counts(0, 0);
  }

  /** A repository starting or ceasing to count (its first link, its last), or a manifest added or removed, in one scope. */
  record CountChange(String scope, boolean repository, int delta, Instant at) {}

  /** Scope counts after the batch, and where each count went in each (scope, hour) it changed in. */
  record CountsOutcome(Map<String, Counts> counts, Map<ScopeHour, Level> repositories, Map<ScopeHour, Level> manifests) {}

  /** A scope's used bytes going up (a blob charged) or down (a blob freed), in event order. */
  record StorageChange(String scope, long delta, Instant at) {}

  /** Scope usage after the batch, and the highest level each (scope, hour) saw on the way. */
  record StorageOutcome(Map<String, Long> usage, Map<String, Instant> changedAt, Map<ScopeHour, Level> levels) {}

  /** A ledger event id, {@code <namespace>/<stream entry id>}, taken apart. */
  record EventId(String namespace, String streamId, StreamPosition position) {
    static EventId parse(String id) {
      int slash = id.lastIndexOf('/');
      if (slash <= 0 || slash == id.length() - 1) {
        throw new IllegalArgumentException("not a ledger event id (<namespace>/<ms>-<seq>): " + id);
      }
      String streamId = id.substring(slash + 1);
      return new EventId(id.substring(0, slash), streamId, StreamPosition.parse(streamId));
    }
  }

  final Map<String, Long> blobSizes = new LinkedHashMap<>();
  /** Links to delete: every one the batch removes, even if it links it again later (then it is in {@link #links} too). */
  final Set<RepositoryDigest> unlinks = new LinkedHashSet<>();
  /** When each link the batch removes left its repository (the latest, if twice): see {@code recent_frees}. */
  final Map<RepositoryDigest, Instant> frees = new LinkedHashMap<>();
  /** Links to insert, when absent, with the time of the add that made the link as it stands after the batch. */
  final Map<RepositoryDigest, Instant> links = new LinkedHashMap<>();
  final Set<RepositoryDigest> manifestDeletes = new LinkedHashSet<>();
  final Map<RepositoryDigest, ManifestAdded> manifestInserts = new LinkedHashMap<>();
  final List<StorageChange> storageChanges = new ArrayList<>();
  final List<CountChange> countChanges = new ArrayList<>();
  final Map<ScopeHour, Traffic> scopeTraffic = new LinkedHashMap<>();
  final Map<UserHour, Traffic> userTraffic = new LinkedHashMap<>();
  final List<Rejected> rejections = new ArrayList<>();
  /** Intents to delete: every one the batch closes, even if it opens it again later (then it is in {@link #intentOpens} too). */
  final Set<NamespaceRequest> intentCloses = new LinkedHashSet<>();
  /** Intents open after the batch, to insert when absent: opened and then closed in the batch, an intent is in neither. */
  final Map<NamespaceRequest, IntentOpened> intentOpens = new LinkedHashMap<>();

  private LedgerBatch() {}

  /** The effects of {@code events}, in order; each must be applied once, so the caller passes only new ones. */
  static LedgerBatch of(List<LedgerEvent> events) {
    LedgerBatch batch = new LedgerBatch();
    events.forEach(batch::add);
    return batch;
  }

  private void add(LedgerEvent event) {
    if (event instanceof BlobAdded added) {
      // A digest names its content, so every report of its size agrees; should two ever differ, the
      // newest wins, as it does in Redis.
      blobSizes.put(added.digest(), added.size());
      links.putIfAbsent(new RepositoryDigest(added.repository(), added.digest()), added.at());
      for (String scope : added.chargedScopes()) {
        storageChanges.add(new StorageChange(scope, added.size(), added.at()));
      }
      if (added.filled()) {
        countChanges(added.repository(), true, 1, added.at());
      }
    } else if (event instanceof BlobRemoved removed) {
      RepositoryDigest link = new RepositoryDigest(removed.repository(), removed.digest());
      unlinks.add(link);
      links.remove(link);
      frees.merge(link, removed.at(), (a, b) -> a.isAfter(b) ? a : b);
      for (String scope : removed.freedScopes()) {
        storageChanges.add(new StorageChange(scope, -removed.size(), removed.at()));
      }
      if (removed.emptied()) {
        countChanges(removed.repository(), true, -1, removed.at());
      }
    } else if (event instanceof ManifestAdded added) {
      manifestInserts.putIfAbsent(new RepositoryDigest(added.repository(), added.digest()), added);
      // The store emits it only for a manifest new to the repository, and manifest_removed only for one that left it.
      countChanges(added.repository(), false, 1, added.at());
    } else if (event instanceof ManifestRemoved removed) {
      RepositoryDigest manifest = new RepositoryDigest(removed.repository(), removed.digest());
      manifestDeletes.add(manifest);
      manifestInserts.remove(manifest);
      countChanges(removed.repository(), false, -1, removed.at());
    } else if (event instanceof TrafficMetered metered) {
      Traffic traffic = new Traffic(metered.ingressBytes(), metered.egressBytes(), metered.pushes(), metered.pulls());
      Instant hour = hourOf(metered.hour());
      for (String scope : Scopes.of(metered.repository())) {
        scopeTraffic.merge(new ScopeHour(scope, hour), traffic, Traffic::plus);
      }
      // Redis counts no user for a request without one (''); neither does the ledger.
      if (!metered.user().isEmpty()) {
        userTraffic.merge(new UserHour(metered.user(), metered.repository(), hour), traffic, Traffic::plus);
      }
    } else if (event instanceof Rejected rejected) {
      rejections.add(rejected);
    } else if (event instanceof IntentOpened opened) {
      intentOpens.put(new NamespaceRequest(EventId.parse(opened.id()).namespace(), opened.requestId()), opened);
    } else if (event instanceof IntentClosed closed) {
      NamespaceRequest intent = new NamespaceRequest(EventId.parse(closed.id()).namespace(), closed.requestId());
      intentOpens.remove(intent);
      intentCloses.add(intent);
    }
  }

  /** A repository's count change counts in every scope of its path. */
  private void countChanges(String repository, boolean repositories, int delta, Instant at) {
    for (String scope : Scopes.of(repository)) {
      countChanges.add(new CountChange(scope, repositories, delta, at));
    }
  }

  /** The scopes whose counts the batch changes, sorted so that concurrent batches lock them in one order. */
  List<String> countScopes() {
    Set<String> scopes = new TreeSet<>();
    countChanges.forEach(change -> scopes.add(change.scope()));
    return List.copyOf(scopes);
  }

  /**
   * Plays the count changes over the counts the scopes had before the batch (absent: 0), as
   * {@link #replayStorage} plays storage: never below 0, and each change's hour saw the level before it and
   * the level after, so a repository that appears and is emptied within an hour leaves its 1 in that hour (and
   * closes it at 0).
   */
  CountsOutcome replayCounts(Map<String, Counts> countsBefore) {
    Map<String, Counts> level = new HashMap<>(countsBefore);
    Map<String, Counts> counts = new LinkedHashMap<>();
    Map<ScopeHour, Level> repositories = new LinkedHashMap<>();
    Map<ScopeHour, Level> manifests = new LinkedHashMap<>();
    for (CountChange change : countChanges) {
      Counts before = level.getOrDefault(change.scope(), Counts.NONE);
      ScopeHour hour = new ScopeHour(change.scope(), hourOf(change.at()));
      Counts after;
      if (change.repository()) {
        after = new Counts(Math.max(0, before.repositories() + change.delta()), before.manifests());
        repositories.merge(hour, Level.change(before.repositories(), after.repositories()), Level::then);
      } else {
        after = new Counts(before.repositories(), Math.max(0, before.manifests() + change.delta()));
        manifests.merge(hour, Level.change(before.manifests(), after.manifests()), Level::then);
      }
      level.put(change.scope(), after);
      counts.put(change.scope(), after);
    }
    return new CountsOutcome(counts, repositories, manifests);
  }

  /** The scopes whose usage the batch changes, sorted so that concurrent batches lock them in one order. */
  List<String> storageScopes() {
    Set<String> scopes = new TreeSet<>();
    storageChanges.forEach(change -> scopes.add(change.scope()));
    return List.copyOf(scopes);
  }

  /**
   * Plays the storage changes over the usage the scopes had before the batch (absent: 0). Usage never
   * goes below 0: freeing more than a scope holds means an event was missed, and reconciliation, not
   * a negative number, repairs that. Each change's hour saw both the level before and the level after
   * it, so the higher of the two is a high-water candidate: the new level after a charge, the old one
   * until a free (an hour of deletes only still reports the storage it held). The hour closes at the level its
   * last change left, which the hours after it hold until the next change.
   */
  StorageOutcome replayStorage(Map<String, Long> usageBefore) {
    Map<String, Long> level = new HashMap<>(usageBefore);
    Map<String, Long> usage = new LinkedHashMap<>();
    Map<String, Instant> changedAt = new LinkedHashMap<>();
    Map<ScopeHour, Level> levels = new LinkedHashMap<>();
    for (StorageChange change : storageChanges) {
      long before = level.getOrDefault(change.scope(), 0L);
      long after = Math.max(0, before + change.delta());
      level.put(change.scope(), after);
      usage.put(change.scope(), after);
      changedAt.put(change.scope(), change.at());
      levels.merge(new ScopeHour(change.scope(), hourOf(change.at())), Level.change(before, after), Level::then);
    }
    return new StorageOutcome(usage, changedAt, levels);
  }

  /** The {@code usage_hourly} rows: where storage and the counts went in each hour they changed, merged with traffic. */
  Map<ScopeHour, HourlyUsage> hourlyUsage(Map<ScopeHour, Level> storage, CountsOutcome counts) {
    Map<ScopeHour, HourlyUsage> rows = new LinkedHashMap<>();
    storage.forEach((key, level) -> rows.put(key, new HourlyUsage(level, null, null, Traffic.NONE)));
    counts.repositories().forEach((key, level) -> rows.merge(key, new HourlyUsage(null, level, null, Traffic.NONE), LedgerBatch::merged));
    counts.manifests().forEach((key, level) -> rows.merge(key, new HourlyUsage(null, null, level, Traffic.NONE), LedgerBatch::merged));
    scopeTraffic.forEach((key, traffic) -> rows.merge(key, new HourlyUsage(null, null, null, traffic), LedgerBatch::merged));
    return rows;
  }

  /** Each figure comes from one of the two (storage, counts and traffic are gathered apart): none is merged twice. */
  private static HourlyUsage merged(HourlyUsage stored, HourlyUsage added) {
    return new HourlyUsage(Level.then(stored.storage(), added.storage()), Level.then(stored.repositories(), added.repositories()),
        Level.then(stored.manifests(), added.manifests()), stored.traffic().plus(added.traffic()));
  }

  /** The references of the manifests to insert, each once. */
  List<RepositoryReference> references() {
    List<RepositoryReference> references = new ArrayList<>();
    for (ManifestAdded manifest : manifestInserts.values()) {
      for (String digest : new LinkedHashSet<>(manifest.references())) {
        references.add(new RepositoryReference(manifest.repository(), manifest.digest(), digest));
      }
    }
    return references;
  }

  /**
   * The namespaces of which a fresh event is later in its stream than the ledger's position but not later in
   * number than the ledger's sequence: appended by a Redis that had gone back to older state (see
   * the ledger's apply). Events without a number, and namespaces with none applied, say nothing.
   * An event earlier in its stream than the position, yet new, is a batch applied out of order (two readers
   * overlapping a lease), not older state.
   */
  static Set<String> olderRedis(List<LedgerEvent> fresh, Map<String, EventId> ids, Map<String, Long> sequences,
      Map<String, NamespaceProgress> progress) {
    Set<String> older = new TreeSet<>();
    for (LedgerEvent event : fresh) {
      EventId id = ids.get(event.id());
      NamespaceProgress applied = progress.get(id.namespace());
      long sequence = sequences.getOrDefault(event.id(), 0L);
      if (applied != null && sequence > 0 && applied.sequence() > 0
          && sequence <= applied.sequence() && id.position().compareTo(applied.position()) > 0) {
        older.add(id.namespace());
      }
    }
    return older;
  }

  /**
   * Namespaces a reconciliation changed ({@code until}: the newest stream entry time its change may
   * include, by namespace) that this batch charges or frees in with an event written up to then: the
   * reconciliation may have made that change already, so their usage is recounted from the links instead.
   */
  Set<String> reconciledStorage(List<LedgerEvent> fresh, Map<String, EventId> ids, Map<String, Long> until) {
    Set<String> reconciled = new TreeSet<>();
    if (until.isEmpty()) {
      return reconciled;
    }
    Set<String> charged = new HashSet<>();
    storageChanges.forEach(change -> charged.add(Scopes.namespace(change.scope())));
    for (LedgerEvent event : fresh) {
      EventId id = ids.get(event.id());
      Long mark = until.get(id.namespace());
      if (mark != null && id.position().ms() <= mark && charged.contains(id.namespace())) {
        reconciled.add(id.namespace());
      }
    }
    return reconciled;
  }

  /** This batch without the storage and count changes of the namespaces (their usage and counts are recounted instead). */
  LedgerBatch withoutStorageOf(Set<String> namespaces) {
    if (!namespaces.isEmpty()) {
      storageChanges.removeIf(change -> namespaces.contains(Scopes.namespace(change.scope())));
      countChanges.removeIf(change -> namespaces.contains(Scopes.namespace(change.scope())));
    }
    return this;
  }

  /** The highest sequence number per namespace among {@code ids} (namespaces without one absent). */
  static Map<String, Long> highestSequences(Map<String, EventId> ids, Map<String, Long> sequences) {
    Map<String, Long> highest = new LinkedHashMap<>();
    ids.forEach((event, id) -> {
      Long sequence = sequences.get(event);
      if (sequence != null && sequence > 0) {
        highest.merge(id.namespace(), sequence, Math::max);
      }
    });
    return highest;
  }

  /** The newest position per namespace among {@code ids}. */
  static Map<String, StreamPosition> newestPositions(Collection<EventId> ids) {
    Map<String, StreamPosition> newest = new LinkedHashMap<>();
    for (EventId id : ids) {
      newest.merge(id.namespace(), id.position(), (a, b) -> a.compareTo(b) >= 0 ? a : b);
    }
    return newest;
  }

  /** The stream's name for the kind of event, kept in {@code ledger_events.type}. */
  static String typeOf(LedgerEvent event) {
    if (event instanceof BlobAdded) {
      return "blob_added";
    } else if (event instanceof BlobRemoved) {
      return "blob_removed";
    } else if (event instanceof ManifestAdded) {
      return "manifest_added";
    } else if (event instanceof ManifestRemoved) {
      return "manifest_removed";
    } else if (event instanceof TrafficMetered) {
      return "traffic";
    } else if (event instanceof IntentOpened) {
      return "intent_opened";
    } else if (event instanceof IntentClosed) {
      return "intent_closed";
    } else {
      return "rejection";
    }
  }

  /** The UTC hour an instant falls in. */
  static Instant hourOf(Instant at) {
    return at.truncatedTo(ChronoUnit.HOURS);
  }
}
