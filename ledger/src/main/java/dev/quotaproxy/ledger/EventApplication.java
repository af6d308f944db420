package dev.quotaproxy.ledger;

import static dev.quotaproxy.ledger.LedgerSql.columns;
import static dev.quotaproxy.ledger.LedgerSql.longs;
import static dev.quotaproxy.ledger.LedgerSql.texts;
import static dev.quotaproxy.ledger.LedgerSql.times;
import static dev.quotaproxy.ledger.LedgerSql.underPattern;

import dev.quotaproxy.ledger.LedgerBatch.Counts;
import dev.quotaproxy.ledger.LedgerBatch.CountsOutcome;
import dev.quotaproxy.ledger.LedgerBatch.EventId;
import dev.quotaproxy.ledger.LedgerBatch.HourlyUsage;
import dev.quotaproxy.ledger.LedgerBatch.Level;
import dev.quotaproxy.ledger.LedgerBatch.NamespaceRequest;
import dev.quotaproxy.ledger.LedgerBatch.RepositoryDigest;
import dev.quotaproxy.ledger.LedgerBatch.RepositoryReference;
import dev.quotaproxy.ledger.LedgerBatch.ScopeHour;
import dev.quotaproxy.ledger.LedgerBatch.StorageOutcome;
import dev.quotaproxy.ledger.LedgerBatch.Traffic;
import dev.quotaproxy.ledger.LedgerBatch.UserHour;
import dev.quotaproxy.ledger.LedgerEvent.IntentOpened;
import dev.quotaproxy.ledger.LedgerEvent.ManifestAdded;
import dev.quotaproxy.ledger.LedgerEvent.Rejected;
import dev.quotaproxy.ledger.events.QuotaEventRecorder;
import dev.quotaproxy.ledger.events.QuotaEventRecorder.Refusal;
import dev.quotaproxy.ledger.events.WarningCrossings.UsageChange;
import io.vertx.core.Future;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;

/**
 * The one transaction that applies a batch of events ({@link Ledger#apply(List, Map)}): lock the
 * namespaces' progress, record the event ids and keep the new ones, apply their effects (storage
 * outside namespaces an older Redis wrote from), recount those, and move progress forward.
 */
final class EventApplication {
  private EventApplication() {}

  static Future<Applied> apply(SqlConnection connection, List<LedgerEvent> distinct, Map<String, EventId> ids,
      Set<String> namespaces, Map<String, Long> sequences) {
    Future<Map<String, NamespaceProgress>> progress = lockProgress(connection, namespaces);
    // Sent with the lock, in one round trip; the connection runs it once the lock is held, so it sees a
    // reconciliation's mark committed with the lock (ReconciliationStore#commit takes the same rows).
    Future<Map<String, Long>> recounts = recountsDue(connection, namespaces);
    return Future.all(progress, recounts)
        .compose(locked -> recordEvents(connection, distinct, ids).compose(fresh -> {
          Set<String> older = LedgerBatch.olderRedis(fresh, ids, sequences, progress.result());
          LedgerBatch batch = LedgerBatch.of(fresh);
          Set<String> recounted = new TreeSet<>(older);
          recounted.addAll(batch.reconciledStorage(fresh, ids, recounts.result()));
          return applyEffects(connection, batch.withoutStorageOf(recounted))
              .compose(done -> recount(connection, recounted))
              .compose(done -> endRecounts(connection, ids, recounts.result()))
              .compose(done -> advanceProgress(connection, ids, sequences))
              .map(done -> new Applied(fresh.size(), older));
        }));
  }

  /** Marks of the namespaces a reconciliation changed: the newest stream entry time its change may include. */
  private static Future<Map<String, Long>> recountsDue(SqlConnection connection, Set<String> namespaces) {
    return connection.preparedQuery(LedgerSql.RECOUNTS_DUE).execute(Tuple.of(namespaces.toArray(String[]::new)))
        .map(rows -> {
          Map<String, Long> until = new HashMap<>();
          rows.forEach(row -> until.put(row.getString("namespace"), row.getLong("until_ms")));
          return until;
        });
  }

  /** Removes the marks this batch went past: later batches of those namespaces replay their charges again. */
  private static Future<Void> endRecounts(SqlConnection connection, Map<String, EventId> ids, Map<String, Long> until) {
    if (until.isEmpty()) {
      return Future.succeededFuture();
    }
    List<Map.Entry<String, StreamPosition>> newest = LedgerBatch.newestPositions(ids.values()).entrySet().stream()
        .filter(position -> until.containsKey(position.getKey()) && position.getValue().ms() > until.get(position.getKey()))
        .toList();
    return write(connection, LedgerSql.END_RECOUNTS, newest, () -> columns(
        texts(newest, Map.Entry::getKey),
        longs(newest, position -> position.getValue().ms())));
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
          rows.forEach(row -> progress.put(row.getString("namespace"), NamespaceProgress.of(row)));
          return progress;
        });
  }

  /**
   * Sets the usage and counts of every scope of the namespaces to what their links and manifests add up to
   * (see {@link LedgerSql#RECOUNT_NAMESPACE}, {@link LedgerSql#RECOUNT_NAMESPACE_COUNTS}).
   */
  private static Future<Void> recount(SqlConnection connection, Set<String> namespaces) {
    Future<Void> done = Future.succeededFuture();
    for (String namespace : new TreeSet<>(namespaces)) {
      Tuple inNamespace = Tuple.of(namespace, underPattern(namespace));
      done = done.compose(v -> connection.preparedQuery(LedgerSql.RECOUNT_NAMESPACE).execute(inNamespace))
          .compose(v -> connection.preparedQuery(LedgerSql.RECOUNT_NAMESPACE_COUNTS).execute(inNamespace).mapEmpty());
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
    List<Map.Entry<RepositoryDigest, Instant>> frees = List.copyOf(batch.frees.entrySet());
    List<ManifestAdded> manifests = List.copyOf(batch.manifestInserts.values());
    List<RepositoryReference> references = batch.references();
    return write(connection, LedgerSql.UPSERT_BLOBS, blobs, () -> columns(
        texts(blobs, Map.Entry::getKey),
        longs(blobs, Map.Entry::getValue)))
        // Unlinks first: a blob removed and added again in one batch ends linked, with its new time.
        .compose(done -> write(connection, LedgerSql.UNLINK_BLOBS, batch.unlinks, () -> columns(
            texts(batch.unlinks, RepositoryDigest::repository),
            texts(batch.unlinks, RepositoryDigest::digest))))
        .compose(done -> write(connection, LedgerSql.RECORD_FREES, frees, () -> columns(
            texts(frees, free -> free.getKey().repository()),
            texts(frees, free -> free.getKey().digest()),
            times(frees, Map.Entry::getValue))))
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
        // Storage, then counts: each locks its rows in scope order, and every writer of both takes them in this order.
        .compose(done -> applyStorage(connection, batch))
        .compose(highWater -> applyCounts(connection, batch)
            .compose(counts -> addHourlyUsage(connection, batch.hourlyUsage(highWater, counts))))
        .compose(done -> addUserTraffic(connection, batch.userTraffic))
        .compose(done -> recordRejections(connection, batch.rejections))
        // Quota events go to their outbox in this transaction: recorded exactly when their causes are, once.
        .compose(done -> QuotaEventRecorder.refusals(connection, batch.rejections.stream()
            .map(r -> new Refusal(r.id(), r.at(), r.repository(), r.user(), r.scope(), r.resource(), r.requested(), r.usage(),
                r.limit(), r.reason()))
            .toList()))
        .compose(done -> applyIntents(connection, batch));
  }

  /** Closes first: an intent closed and opened again in one batch ends open. */
  private static Future<Void> applyIntents(SqlConnection connection, LedgerBatch batch) {
    List<Map.Entry<NamespaceRequest, IntentOpened>> opened = List.copyOf(batch.intentOpens.entrySet());
    return write(connection, LedgerSql.CLOSE_INTENTS, batch.intentCloses, () -> columns(
        texts(batch.intentCloses, NamespaceRequest::namespace),
        texts(batch.intentCloses, NamespaceRequest::requestId)))
        .compose(done -> write(connection, LedgerSql.OPEN_INTENTS, opened, () -> columns(
            texts(opened, intent -> intent.getKey().namespace()),
            texts(opened, intent -> intent.getKey().requestId()),
            texts(opened, intent -> intent.getValue().what()),
            texts(opened, intent -> intent.getValue().repository()),
            texts(opened, intent -> intent.getValue().digest()),
            texts(opened, intent -> intent.getValue().sessionId()),
            longs(opened, intent -> intent.getValue().size()),
            texts(opened, intent -> intent.getValue().references()),
            times(opened, intent -> intent.getValue().at()))));
  }

  /**
   * Scope usage: locks the touched scopes' rows, replays the batch's charges and frees over them
   * (usage never below 0, high water and close per hour), writes the results back, and gives each hour's levels.
   */
  private static Future<Map<ScopeHour, Level>> applyStorage(SqlConnection connection, LedgerBatch batch) {
    String[] scopes = batch.storageScopes().toArray(String[]::new);
    if (scopes.length == 0) {
      return Future.succeededFuture(Map.of());
    }
    List<UsageChange> changes = batch.storageChanges.stream()
        .map(change -> new UsageChange(change.scope(), change.delta(), change.at())).toList();
    return connection.preparedQuery(LedgerSql.ENSURE_SCOPES).execute(columns(scopes))
        // The soft limits go with the lock, in one round trip: upward crossings are found over the locked levels.
        .compose(done -> Future.all(connection.preparedQuery(LedgerSql.LOCK_SCOPES).execute(columns(scopes)),
            QuotaEventRecorder.softLimits(connection, scopes, changes)))
        .compose(read -> {
          RowSet<Row> locked = read.resultAt(0);
          Map<String, Long> before = new HashMap<>();
          locked.forEach(row -> before.put(row.getString("scope"), row.getLong("used_bytes")));
          StorageOutcome outcome = batch.replayStorage(before);
          Set<String> changed = outcome.usage().keySet();
          return connection.preparedQuery(LedgerSql.SET_SCOPE_USAGE).execute(columns(
              texts(changed, scope -> scope),
              longs(changed, outcome.usage()::get),
              times(changed, outcome.changedAt()::get)))
              // Quota warnings into their outbox, in this transaction: each crossing is found by one batch.
              .compose(done -> QuotaEventRecorder.crossings(connection, before, changes, read.resultAt(1)))
              .map(done -> outcome.levels());
        });
  }

  /**
   * Scope counts, as storage: locks the touched scopes' rows, replays the batch's count changes over them
   * (never below 0, high water and close per hour), writes the results back, and gives the outcome.
   */
  private static Future<CountsOutcome> applyCounts(SqlConnection connection, LedgerBatch batch) {
    String[] scopes = batch.countScopes().toArray(String[]::new);
    if (scopes.length == 0) {
      return Future.succeededFuture(new CountsOutcome(Map.of(), Map.of(), Map.of()));
    }
    boolean someAdd = batch.countChanges.stream().anyMatch(change -> change.delta() > 0);
    return connection.preparedQuery(LedgerSql.ENSURE_COUNTS).execute(columns(scopes))
        // The soft limits go with the lock, in one round trip, as for storage.
        .compose(done -> Future.all(connection.preparedQuery(LedgerSql.LOCK_COUNTS).execute(columns(scopes)),
            QuotaEventRecorder.countSoftLimits(connection, scopes, someAdd)))
        .compose(read -> {
          RowSet<Row> locked = read.resultAt(0);
          Map<String, Counts> before = new HashMap<>();
          locked.forEach(row -> before.put(row.getString("scope"), new Counts(row.getLong("repositories"), row.getLong("manifests"))));
          CountsOutcome outcome = batch.replayCounts(before);
          Set<String> changed = outcome.counts().keySet();
          return connection.preparedQuery(LedgerSql.SET_COUNTS).execute(columns(
              texts(changed, scope -> scope),
              longs(changed, scope -> outcome.counts().get(scope).repositories()),
              longs(changed, scope -> outcome.counts().get(scope).manifests())))
              // Count warnings into their outbox, in this transaction, as storage's.
              .compose(done -> QuotaEventRecorder.countCrossings(connection, level(before, true), countChanges(batch, true),
                  level(before, false), countChanges(batch, false), read.resultAt(1)))
              .map(done -> outcome);
        });
  }

  /** The batch's changes to one count (repositories, or manifests), in event order. */
  private static List<UsageChange> countChanges(LedgerBatch batch, boolean repositories) {
    return batch.countChanges.stream().filter(change -> change.repository() == repositories)
        .map(change -> new UsageChange(change.scope(), change.delta(), change.at())).toList();
  }

  /** One count (repositories, or manifests) of each scope. */
  private static Map<String, Long> level(Map<String, Counts> counts, boolean repositories) {
    Map<String, Long> level = new HashMap<>();
    counts.forEach((scope, both) -> level.put(scope, repositories ? both.repositories() : both.manifests()));
    return level;
  }

  private static Future<Void> addHourlyUsage(SqlConnection connection, Map<ScopeHour, HourlyUsage> usage) {
    List<Map.Entry<ScopeHour, HourlyUsage>> rows = List.copyOf(usage.entrySet());
    return write(connection, LedgerSql.ADD_HOURLY_USAGE, rows, () -> columns(
        texts(rows, row -> row.getKey().scope()),
        times(rows, row -> row.getKey().hour()),
        longs(rows, row -> highWater(row.getValue().storage())),
        longs(rows, row -> row.getValue().traffic().ingressBytes()),
        longs(rows, row -> row.getValue().traffic().egressBytes()),
        longs(rows, row -> row.getValue().traffic().pushes()),
        longs(rows, row -> row.getValue().traffic().pulls()),
        longs(rows, row -> highWater(row.getValue().repositories())),
        longs(rows, row -> highWater(row.getValue().manifests())),
        closes(rows, row -> row.getValue().storage()),
        closes(rows, row -> row.getValue().repositories()),
        closes(rows, row -> row.getValue().manifests())));
  }

  /** A figure's high water in an hour: 0 when it did not change there. */
  private static long highWater(Level level) {
    return level == null ? 0 : level.highWater();
  }

  /** A figure's close in each hour: null when it did not change there. */
  private static <R> Long[] closes(List<R> rows, java.util.function.Function<R, Level> level) {
    return rows.stream().map(row -> level.apply(row) == null ? null : level.apply(row).close()).toArray(Long[]::new);
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
}
