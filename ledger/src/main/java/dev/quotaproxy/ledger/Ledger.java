package dev.quotaproxy.ledger;

import static dev.quotaproxy.ledger.LedgerSql.underPattern;

import dev.quotaproxy.ledger.LedgerBatch.EventId;
import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

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
   * A request's intent the ledger holds open (see {@link LedgerEvent.IntentOpened}): what the request was about
   * to make the registry do, as the intent recorded it.
   *
   * @param sessionId  '' for none
   * @param size       -1 for none
   * @param references {@code digest:size,...}, '' for none
   */
  public record OpenIntent(String requestId, String what, String repository, String digest, String sessionId, long size,
      String references) {}

  /**
   * A namespace as of one moment, to rebuild its Redis state from.
   *
   * @param position     the newest event the snapshot includes (empty: none applied yet); stream entries
   *                     after it are not in the snapshot
   * @param sequence     the highest namespace sequence number applied (0: none): Redis numbers its next
   *                     events after it
   * @param usage        the used bytes of every scope in the namespace
   * @param repositories by repository name, each repository with any link or manifest
   * @param intents      the intents open, by request id
   * @param frees        the links removed in the last hour, each with when it left its repository
   */
  public record NamespaceSnapshot(String namespace, Optional<StreamPosition> position, long sequence,
      Map<String, Long> usage, Map<String, RepositorySnapshot> repositories, Map<String, OpenIntent> intents, List<Freed> frees) {}

  /** A link that left its repository at {@code at}. */
  public record Freed(String repository, String digest, Instant at) {}

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
    return pool.withTransaction(connection -> EventApplication.apply(connection, distinct, ids, namespaces, sequences));
  }

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

  /** One scope's counts as the ledger keeps them from the events (0 and 0 when it has none). */
  public Future<CountsByScope> scopeCounts(String scope) {
    return pool.preparedQuery(LedgerSql.SCOPE_COUNTS).execute(Tuple.of(scope))
        .map(rows -> rows.size() == 0
            ? new CountsByScope(0, 0)
            : new CountsByScope(rows.iterator().next().getLong("repositories"), rows.iterator().next().getLong("manifests")));
  }

  /** The namespace's counts per scope (repositories holding anything, manifests), from its links and manifests. */
  public Future<Map<String, CountsByScope>> namespaceCounts(String namespace) {
    Tuple inNamespace = Tuple.of(namespace, underPattern(namespace));
    return Future.all(pool.preparedQuery(LedgerSql.NAMESPACE_LINK_COUNTS).execute(inNamespace),
        pool.preparedQuery(LedgerSql.NAMESPACE_MANIFEST_COUNTS).execute(inNamespace))
        .map(read -> CountsByScope.rollUp(heldPerRepository(read.resultAt(0)), heldPerRepository(read.resultAt(1))));
  }

  private static Map<String, Long> heldPerRepository(RowSet<Row> rows) {
    Map<String, Long> held = new TreeMap<>();
    rows.forEach(row -> held.put(row.getString("repository"), row.getLong("held")));
    return held;
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
        .map(rows -> rows.size() == 0 ? Optional.empty() : Optional.of(NamespaceProgress.of(rows.iterator().next())));
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
            connection.preparedQuery(LedgerSql.NAMESPACE_MANIFESTS).execute(inNamespace),
            connection.preparedQuery(LedgerSql.NAMESPACE_INTENTS).execute(Tuple.of(namespace)),
            connection.preparedQuery(LedgerSql.NAMESPACE_FREES).execute(inNamespace)))
        .map(read -> new NamespaceSnapshot(namespace,
            read.<Optional<NamespaceProgress>>resultAt(0).map(NamespaceProgress::position),
            read.<Optional<NamespaceProgress>>resultAt(0).map(NamespaceProgress::sequence).orElse(0L),
            read.resultAt(1),
            repositories(read.resultAt(2), read.resultAt(3)),
            intents(read.resultAt(4)),
            frees(read.resultAt(5)))));
  }

  private static List<Freed> frees(RowSet<Row> rows) {
    List<Freed> frees = new ArrayList<>();
    for (Row row : rows) {
      frees.add(new Freed(row.getString("repository"), row.getString("digest"), row.getOffsetDateTime("freed_at").toInstant()));
    }
    return List.copyOf(frees);
  }

  private static Map<String, OpenIntent> intents(RowSet<Row> rows) {
    Map<String, OpenIntent> intents = new TreeMap<>();
    for (Row row : rows) {
      intents.put(row.getString("request_id"), new OpenIntent(row.getString("request_id"), row.getString("what"),
          row.getString("repository"), row.getString("digest"), row.getString("session_id"), row.getLong("size"), row.getString("refs")));
    }
    return Collections.unmodifiableMap(intents);
  }

  /** The intents the namespace has open (see {@link LedgerEvent.IntentOpened}), by request id. */
  public Future<Map<String, OpenIntent>> openIntents(String namespace) {
    return pool.preparedQuery(LedgerSql.NAMESPACE_INTENTS).execute(Tuple.of(namespace)).map(Ledger::intents);
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
      references.getOrDefault(name, Map.of())
          .forEach((digest, referenced) -> manifestsOfRepository.put(digest, Collections.unmodifiableSet(referenced)));
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
