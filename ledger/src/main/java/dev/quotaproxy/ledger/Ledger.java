package dev.quotaproxy.ledger;

import static dev.quotaproxy.ledger.LedgerSql.columns;
import static dev.quotaproxy.ledger.LedgerSql.longs;
import static dev.quotaproxy.ledger.LedgerSql.texts;
import static dev.quotaproxy.ledger.LedgerSql.times;
import static dev.quotaproxy.ledger.LedgerSql.underPattern;

import dev.quotaproxy.ledger.LedgerBatch.EventId;
import dev.quotaproxy.ledger.LedgerBatch.HourlyUsage;
import dev.quotaproxy.ledger.LedgerBatch.RepositoryDigest;
import dev.quotaproxy.ledger.LedgerBatch.RepositoryReference;
import dev.quotaproxy.ledger.LedgerBatch.ScopeHour;
import dev.quotaproxy.ledger.LedgerBatch.StorageOutcome;
import dev.quotaproxy.ledger.LedgerBatch.Traffic;
import dev.quotaproxy.ledger.LedgerBatch.UserHour;
import dev.quotaproxy.ledger.LedgerEvent.ManifestAdded;
import dev.quotaproxy.ledger.LedgerEvent.Rejected;
import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Supplier;

/**
 * The durable record of usage in Postgres: applies the metering store's events exactly once, and
 * answers what Redis is checked against and rebuilt from. Every method is non-blocking.
 *
 * <p>Exactly once: a batch is one transaction that first records its event ids and applies only the
 * events whose id was new. A redelivered event finds its id and changes nothing; a failed batch leaves
 * no id behind, so retrying it applies it whole. Events of a namespace are expected in stream order.
 */
public final class Ledger {
  private final Pool pool;

  public Ledger(Pool pool) {
    this.pool = pool;
  }

  /**
   * What one repository holds.
   *
   * @param blobs     every linked digest (layers, configs and manifests) with its size
   * @param manifests every manifest digest with the digests it references
   */
  public record RepositorySnapshot(Map<String, Long> blobs, Map<String, Set<String>> manifests) {}

  /**
   * A namespace as of one moment, to rebuild its Redis state from.
   *
   * @param position     the newest event the snapshot includes (empty: none applied yet); stream entries
   *                     after it are not in the snapshot
   * @param sequence     the highest namespace sequence number applied (0: none): Redis numbers its next
   *                     events after it
   * @param usage        the used bytes of every scope in the namespace
   * @param repositories by repository name, each repository with any link or manifest
   */
  public record NamespaceSnapshot(String namespace, Optional<StreamPosition> position, long sequence,
                                  Map<String, Long> usage, Map<String, RepositorySnapshot> repositories) {}

  /**
   * What one application of events did.
   *
   * @param count      events applied now (redelivered ones count 0)
   * @param olderRedis namespaces whose new events came from a Redis holding older state than the ledger
   *                   (see {@link #apply(List, Map)}): their usage was recounted from the links, and their
   *                   Redis state must be restored from the ledger
   */
  public record Applied(int count, Set<String> olderRedis) {
    public Applied {
      olderRedis = Set.copyOf(olderRedis);
    }
  }


  /**
   * Applies the events not applied before, all or nothing, and advances each namespace's position.
   * The same id twice in one batch is one event. On failure nothing has changed and the caller
   * retries the batch.
   *
   * @return how many events were applied now (redelivered ones count 0)
   */
  public Future<Integer> apply(List<LedgerEvent> events) {
    return apply(events, Map.of()).map(Applied::count);
  }

  /**
   * As {@link #apply(List)}, for events that carry their namespace's sequence number ({@code sequences},
   * by event id; an event without one is not checked).
   *
   * <p>Redis numbers every event of a namespace, one after another, and the ledger keeps the highest number
   * it applied. A new event that is later in its stream than the ledger's position but not later in number
   * was appended by a Redis that came back with older state (an older snapshot, a truncated AOF): it decided
   * on usage the ledger had already moved past, so the scopes it charged or freed are not trusted. Its
   * links, manifests and traffic are applied; the namespace's usage is recounted from the links instead, and
   * the namespace is named in {@link Applied#olderRedis()} for its Redis state to be restored.
   */
  public Future<Applied> apply(List<LedgerEvent> events, Map<String, Long> sequences) {
    Map<String, LedgerEvent> byId = new LinkedHashMap<>();
    Map<String, EventId> ids = new LinkedHashMap<>();
    try {
      for (LedgerEvent event : events) {
        if (byId.putIfAbsent(event.id(), event) == null) {
          ids.put(event.id(), EventId.parse(event.id()));
        }
      }
    } catch (IllegalArgumentException e) {
      return Future.failedFuture(e);
    }
    if (byId.isEmpty()) {
      return Future.succeededFuture(new Applied(0, Set.of()));
    }
    List<LedgerEvent> distinct = List.copyOf(byId.values());
    Set<String> namespaces = new TreeSet<>();
    ids.values().forEach(id -> namespaces.add(id.namespace()));
    return pool.withTransaction(connection -> lockProgress(connection, namespaces)
        .compose(progress -> recordEvents(connection, distinct, ids).compose(fresh -> {
          Set<String> older = LedgerBatch.olderRedis(fresh, ids, sequences, progress);
          return applyEffects(connection, LedgerBatch.of(fresh).withoutStorageOf(older))
              .compose(done -> recount(connection, older))
              .compose(done -> advanceProgress(connection, ids, sequences))
              .map(done -> new Applied(fresh.size(), older));
        })));
  }

  /**
   * The progress rows of the namespaces, locked until the transaction ends, in name order: batches of one
   * namespace (the feed, the outbox, a recovery) then judge their events against a position and a number
   * no other batch is moving.
   */
  private static Future<Map<String, NamespaceProgress>> lockProgress(SqlConnection connection, Set<String> namespaces) {
    return connection.preparedQuery(LedgerSql.LOCK_PROGRESS).execute(Tuple.of(namespaces.toArray(String[]::new)))
        .map(rows -> {
          Map<String, NamespaceProgress> progress = new HashMap<>();
          rows.forEach(row -> progress.put(row.getString("namespace"), progressOf(row)));
          return progress;
        });
  }

  private static NamespaceProgress progressOf(Row row) {
    return new NamespaceProgress(new StreamPosition(row.getLong("last_stream_ms"), row.getLong("last_stream_seq")),
        row.getLong("last_sequence"));
  }

  /** Sets the usage of every scope of the namespaces to what their links add up to (see {@link LedgerSql#RECOUNT_NAMESPACE}). */
  private static Future<Void> recount(SqlConnection connection, Set<String> namespaces) {
    Future<Void> done = Future.succeededFuture();
    for (String namespace : new TreeSet<>(namespaces)) {
      done = done.compose(v -> connection.preparedQuery(LedgerSql.RECOUNT_NAMESPACE)
          .execute(Tuple.of(namespace, underPattern(namespace))).mapEmpty());
    }
    return done;
  }

  /** Records the ids and returns, in batch order, the events whose id was new. */
  private static Future<List<LedgerEvent>> recordEvents(SqlConnection connection, List<LedgerEvent> events,
                                                        Map<String, EventId> ids) {
    Tuple rows = columns(
        texts(events, LedgerEvent::id),
        texts(events, event -> ids.get(event.id()).namespace()),
        texts(events, event -> ids.get(event.id()).streamId()),
        texts(events, LedgerBatch::typeOf),
        times(events, LedgerEvent::at));
    return connection.preparedQuery(LedgerSql.RECORD_EVENTS).execute(rows).map(inserted -> {
      Set<String> fresh = new HashSet<>();
      inserted.forEach(row -> fresh.add(row.getString("event_id")));
      return events.stream().filter(event -> fresh.contains(event.id())).toList();
    });
  }

  /** One statement per table, in an order that respects the foreign keys (blobs before their links). */
  private static Future<Void> applyEffects(SqlConnection connection, LedgerBatch batch) {
    List<Map.Entry<String, Long>> blobs = List.copyOf(batch.blobSizes.entrySet());
    List<Map.Entry<RepositoryDigest, Instant>> links = List.copyOf(batch.links.entrySet());
    List<ManifestAdded> manifests = List.copyOf(batch.manifestInserts.values());
    List<RepositoryReference> references = batch.references();
    return write(connection, LedgerSql.UPSERT_BLOBS, blobs, () -> columns(
            texts(blobs, Map.Entry::getKey),
            longs(blobs, Map.Entry::getValue)))
        // Unlinks first: a blob removed and added again in one batch ends linked, with its new time.
        .compose(done -> write(connection, LedgerSql.UNLINK_BLOBS, batch.unlinks, () -> columns(
            texts(batch.unlinks, RepositoryDigest::repository),
            texts(batch.unlinks, RepositoryDigest::digest))))
        .compose(done -> write(connection, LedgerSql.LINK_BLOBS, links, () -> columns(
            texts(links, link -> link.getKey().repository()),
            texts(links, link -> link.getKey().digest()),
            times(links, Map.Entry::getValue))))
        .compose(done -> write(connection, LedgerSql.DELETE_MANIFESTS, batch.manifestDeletes, () -> columns(
            texts(batch.manifestDeletes, RepositoryDigest::repository),
            texts(batch.manifestDeletes, RepositoryDigest::digest))))
        .compose(done -> write(connection, LedgerSql.INSERT_MANIFESTS, manifests, () -> columns(
            texts(manifests, ManifestAdded::repository),
            texts(manifests, ManifestAdded::digest),
            times(manifests, ManifestAdded::at),
            texts(manifests, ManifestAdded::user))))
        .compose(done -> write(connection, LedgerSql.INSERT_REFERENCES, references, () -> columns(
            texts(references, RepositoryReference::repository),
            texts(references, RepositoryReference::manifestDigest),
            texts(references, RepositoryReference::digest))))
        .compose(done -> applyStorage(connection, batch))
        .compose(highWater -> addHourlyUsage(connection, batch.hourlyUsage(highWater)))
        .compose(done -> addUserTraffic(connection, batch.userTraffic))
        .compose(done -> recordRejections(connection, batch.rejections));
  }

  /**
   * Scope usage: locks the touched scopes' rows, replays the batch's charges and frees over them
   * (usage never below 0, high water per hour), writes the results back, and gives the high water.
   */
  private static Future<Map<ScopeHour, Long>> applyStorage(SqlConnection connection, LedgerBatch batch) {
    String[] scopes = batch.storageScopes().toArray(String[]::new);
    if (scopes.length == 0) {
      return Future.succeededFuture(Map.of());
    }
    return connection.preparedQuery(LedgerSql.ENSURE_SCOPES).execute(columns(scopes))
        .compose(done -> connection.preparedQuery(LedgerSql.LOCK_SCOPES).execute(columns(scopes)))
        .compose(locked -> {
          Map<String, Long> before = new HashMap<>();
          locked.forEach(row -> before.put(row.getString("scope"), row.getLong("used_bytes")));
          StorageOutcome outcome = batch.replayStorage(before);
          Set<String> changed = outcome.usage().keySet();
          return connection.preparedQuery(LedgerSql.SET_SCOPE_USAGE).execute(columns(
                  texts(changed, scope -> scope),
                  longs(changed, outcome.usage()::get),
                  times(changed, outcome.changedAt()::get)))
              .map(done -> outcome.highWater());
        });
  }

  private static Future<Void> addHourlyUsage(SqlConnection connection, Map<ScopeHour, HourlyUsage> usage) {
    List<Map.Entry<ScopeHour, HourlyUsage>> rows = List.copyOf(usage.entrySet());
    return write(connection, LedgerSql.ADD_HOURLY_USAGE, rows, () -> columns(
        texts(rows, row -> row.getKey().scope()),
        times(rows, row -> row.getKey().hour()),
        longs(rows, row -> row.getValue().storageHighWater()),
        longs(rows, row -> row.getValue().traffic().ingressBytes()),
        longs(rows, row -> row.getValue().traffic().egressBytes()),
        longs(rows, row -> row.getValue().traffic().pushes()),
        longs(rows, row -> row.getValue().traffic().pulls())));
  }

  private static Future<Void> addUserTraffic(SqlConnection connection, Map<UserHour, Traffic> traffic) {
    List<Map.Entry<UserHour, Traffic>> rows = List.copyOf(traffic.entrySet());
    return write(connection, LedgerSql.ADD_USER_TRAFFIC, rows, () -> columns(
        texts(rows, row -> row.getKey().user()),
        texts(rows, row -> row.getKey().repository()),
        times(rows, row -> row.getKey().hour()),
        longs(rows, row -> row.getValue().ingressBytes()),
        longs(rows, row -> row.getValue().egressBytes()),
        longs(rows, row -> row.getValue().pushes()),
        longs(rows, row -> row.getValue().pulls())));
  }

  private static Future<Void> recordRejections(SqlConnection connection, List<Rejected> rejections) {
    return write(connection, LedgerSql.RECORD_REJECTIONS, rejections, () -> columns(
        texts(rejections, Rejected::id),
        times(rejections, Rejected::at),
        texts(rejections, Rejected::repository),
        texts(rejections, Rejected::scope),
        texts(rejections, Rejected::user),
        texts(rejections, Rejected::resource),
        longs(rejections, Rejected::requested),
        longs(rejections, Rejected::usage),
        longs(rejections, Rejected::limit),
        texts(rejections, Rejected::reason)));
  }

  /** Every event of the batch counts here, redelivered ones too: position and number only move forward. */
  private static Future<Void> advanceProgress(SqlConnection connection, Map<String, EventId> ids, Map<String, Long> sequences) {
    List<Map.Entry<String, StreamPosition>> newest = List.copyOf(LedgerBatch.newestPositions(ids.values()).entrySet());
    Map<String, Long> highest = LedgerBatch.highestSequences(ids, sequences);
    return write(connection, LedgerSql.ADVANCE_PROGRESS, newest, () -> columns(
        texts(newest, Map.Entry::getKey),
        longs(newest, position -> position.getValue().ms()),
        longs(newest, position -> position.getValue().seq()),
        longs(newest, position -> highest.getOrDefault(position.getKey(), 0L))));
  }

  /** Runs a multi-row write, or nothing when there are no rows. */
  private static Future<Void> write(SqlConnection connection, String sql, Collection<?> rows, Supplier<Tuple> columns) {
    if (rows.isEmpty()) {
      return Future.succeededFuture();
    }
    return connection.preparedQuery(sql).execute(columns.get()).mapEmpty();
  }

  // ---- Reading ----------------------------------------------------------------------------------

  /** The used bytes of one scope (0 when the ledger has none). */
  public Future<Long> scopeUsage(String scope) {
    return pool.preparedQuery(LedgerSql.SCOPE_USAGE).execute(Tuple.of(scope))
        .map(rows -> rows.size() == 0 ? 0L : rows.iterator().next().getLong("used_bytes"));
  }

  /** The used bytes of every scope in a top-level namespace: the namespace itself and every scope under it. */
  public Future<Map<String, Long>> namespaceUsage(String namespace) {
    return namespaceUsage(pool, namespace);
  }

  private static Future<Map<String, Long>> namespaceUsage(SqlClient client, String namespace) {
    return client.preparedQuery(LedgerSql.NAMESPACE_USAGE).execute(Tuple.of(namespace, underPattern(namespace)))
        .map(rows -> {
          Map<String, Long> usage = new TreeMap<>();
          rows.forEach(row -> usage.put(row.getString("scope"), row.getLong("used_bytes")));
          return Collections.unmodifiableMap(usage);
        });
  }

  /** Which of these event ids the ledger has recorded (applied): ids are {@code namespace/streamId}, as events carry them. */
  public Future<Set<String>> recorded(Collection<String> eventIds) {
    if (eventIds.isEmpty()) {
      return Future.succeededFuture(Set.of());
    }
    return pool.preparedQuery(LedgerSql.RECORDED_EVENTS).execute(Tuple.of(eventIds.toArray(String[]::new))).map(rows -> {
      Set<String> recorded = new HashSet<>();
      rows.forEach(row -> recorded.add(row.getString("event_id")));
      return recorded;
    });
  }

  /** The newest stream entry of the namespace applied (empty: none yet). */
  public Future<Optional<StreamPosition>> progress(String namespace) {
    return progress(pool, namespace);
  }

  private static Future<Optional<StreamPosition>> progress(SqlClient client, String namespace) {
    return progressRow(client, namespace).map(progress -> progress.map(NamespaceProgress::position));
  }

  /** The highest sequence number of the namespace applied (0: none numbered yet). */
  public Future<Long> sequence(String namespace) {
    return progressRow(pool, namespace).map(progress -> progress.map(NamespaceProgress::sequence).orElse(0L));
  }

  private static Future<Optional<NamespaceProgress>> progressRow(SqlClient client, String namespace) {
    return client.preparedQuery(LedgerSql.PROGRESS).execute(Tuple.of(namespace))
        .map(rows -> rows.size() == 0 ? Optional.empty() : Optional.of(progressOf(rows.iterator().next())));
  }

  /**
   * The namespace's repositories, usage and position, read in one repeatable-read transaction so they
   * agree with each other even while batches are being applied.
   */
  public Future<NamespaceSnapshot> snapshot(String namespace) {
    Tuple inNamespace = Tuple.of(namespace, underPattern(namespace));
    // The reads after the first go out together: one connection runs them in order, in one round trip.
    return pool.withTransaction(connection -> connection.query(LedgerSql.CONSISTENT_READ).execute()
        .compose(done -> Future.all(
            progressRow(connection, namespace),
            namespaceUsage(connection, namespace),
            connection.preparedQuery(LedgerSql.NAMESPACE_LINKS).execute(inNamespace),
            connection.preparedQuery(LedgerSql.NAMESPACE_MANIFESTS).execute(inNamespace)))
        .map(read -> new NamespaceSnapshot(namespace,
            read.<Optional<NamespaceProgress>>resultAt(0).map(NamespaceProgress::position),
            read.<Optional<NamespaceProgress>>resultAt(0).map(NamespaceProgress::sequence).orElse(0L),
            read.resultAt(1),
            repositories(read.resultAt(2), read.resultAt(3)))));
  }

  private static Map<String, RepositorySnapshot> repositories(RowSet<Row> links, RowSet<Row> manifests) {
    Map<String, Map<String, Long>> blobs = new TreeMap<>();
    for (Row row : links) {
      blobs.computeIfAbsent(row.getString("repository"), repository -> new TreeMap<>())
          .put(row.getString("digest"), row.getLong("size"));
    }
    Map<String, Map<String, Set<String>>> references = new TreeMap<>();
    for (Row row : manifests) {
      Set<String> referenced = references
          .computeIfAbsent(row.getString("repository"), repository -> new TreeMap<>())
          .computeIfAbsent(row.getString("digest"), digest -> new TreeSet<>());
      if (row.getString("reference") != null) {
        referenced.add(row.getString("reference"));
      }
    }
    Set<String> names = new TreeSet<>(blobs.keySet());
    names.addAll(references.keySet());
    Map<String, RepositorySnapshot> repositories = new TreeMap<>();
    for (String name : names) {
      Map<String, Set<String>> manifestsOfRepository = new TreeMap<>();
      references.getOrDefault(name, Map.of()).forEach((digest, referenced) ->
          manifestsOfRepository.put(digest, Collections.unmodifiableSet(referenced)));
      repositories.put(name, new RepositorySnapshot(
          Collections.unmodifiableMap(blobs.getOrDefault(name, new TreeMap<>())),
          Collections.unmodifiableMap(manifestsOfRepository)));
    }
    return Collections.unmodifiableMap(repositories);
  }

  /** The top-level namespaces holding any linked blob or manifest, sorted. */
  public Future<List<String>> namespaces() {
    return pool.query(LedgerSql.NAMESPACES).execute().map(rows -> {
      List<String> namespaces = new ArrayList<>();
      rows.forEach(row -> namespaces.add(row.getString("namespace")));
      return List.copyOf(namespaces);
    });
  }

  /**
   * The identity of the Redis state this ledger knows, made on first use. Redis keeps it in each
   * namespace's marker; a marker that is missing or different means that namespace's Redis state is
   * not this ledger's and must be restored from it.
   */
  public Future<String> redisEpoch() {
    return pool.preparedQuery("insert into redis_state (id, epoch) values (1, $1) on conflict (id) do nothing")
        .execute(Tuple.of(java.util.UUID.randomUUID().toString()))
        .compose(inserted -> pool.query("select epoch from redis_state where id = 1").execute())
        .map(rows -> rows.iterator().next().getString("epoch"));
  }

  /**
   * Records a reconciliation of Redis against this ledger: a done {@code reconciliations} row of kind
   * {@code redis} and a {@code drift} row per scope, expected being what Redis held and found what the
   * ledger holds (and Redis was corrected to).
   */
  public Future<Long> recordRedisDrift(Map<String, long[]> drift) {
    return pool.withTransaction(connection -> connection
        .preparedQuery("insert into reconciliations (kind, status, finished_at) values ('redis', 'done', now()) returning id")
        .execute()
        .compose(rows -> {
          long id = rows.iterator().next().getLong("id");
          if (drift.isEmpty()) {
            return Future.succeededFuture(id);
          }
          List<Tuple> batch = new ArrayList<>();
          drift.forEach((scope, numbers) -> batch.add(Tuple.of(id, scope, numbers[0], numbers[1])));
          return connection.preparedQuery(
                  "insert into drift (reconciliation_id, scope, expected_bytes, found_bytes, corrected) values ($1, $2, $3, $4, true)")
              .executeBatch(batch)
              .map(id);
        }));
  }
}
