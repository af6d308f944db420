package dev.quotaproxy.ledger;

import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Collection;
import java.util.function.Function;
import java.util.function.ToLongFunction;

/**
 * The ledger's SQL. Writes take their rows as one array per column ({@code unnest($1::text[], ...)}),
 * so a batch of any size is one statement, one round trip, per table. Rows given to an upsert that
 * updates on conflict must be unique by key (Postgres refuses to update one row twice in a statement):
 * {@link LedgerBatch} merges them first.
 */
final class LedgerSql {
  private LedgerSql() {}

  // ---- Applying events ------------------------------------------------------------------------

  /** Returns the ids not recorded before: exactly the events this transaction must apply. */
  static final String RECORD_EVENTS = """
      insert into ledger_events (event_id, namespace, stream_id, type, occurred_at)
      select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])
      on conflict (event_id) do nothing
      returning event_id""";

  static final String UPSERT_BLOBS = """
      insert into blobs (digest, size)
      select * from unnest($1::text[], $2::bigint[])
      on conflict (digest) do update set size = excluded.size
        where blobs.size <> excluded.size""";

  static final String UNLINK_BLOBS = """
      delete from repository_blobs as link
      using unnest($1::text[], $2::text[]) as gone (repository, digest)
      where link.repository = gone.repository and link.digest = gone.digest""";

  /** A link that exists already keeps its time: the blob has been in the repository since then. */
  static final String LINK_BLOBS = """
      insert into repository_blobs (repository, digest, linked_at)
      select * from unnest($1::text[], $2::text[], $3::timestamptz[])
      on conflict (repository, digest) do nothing""";

  /** Their references go with them (on delete cascade). */
  static final String DELETE_MANIFESTS = """
      delete from manifests as manifest
      using unnest($1::text[], $2::text[]) as gone (repository, digest)
      where manifest.repository = gone.repository and manifest.digest = gone.digest""";

  static final String INSERT_MANIFESTS = """
      insert into manifests (repository, digest, pushed_at, pushed_by)
      select * from unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[])
      on conflict (repository, digest) do nothing""";

  static final String INSERT_REFERENCES = """
      insert into manifest_references (repository, manifest_digest, digest)
      select * from unnest($1::text[], $2::text[], $3::text[])
      on conflict do nothing""";

  /**
   * Scope usage is read, replayed in Java and written back, so first every scope the batch touches
   * gets a row: a concurrent batch then waits on the row lock below instead of also reading "absent".
   */
  static final String ENSURE_SCOPES = """
      insert into scope_usage (scope, used_bytes, updated_at)
      select scope, 0, now() from unnest($1::text[]) as touched (scope)
      order by scope
      on conflict (scope) do nothing""";

  static final String LOCK_SCOPES = """
      select scope, used_bytes from scope_usage
      where scope = any($1::text[])
      order by scope
      for update""";

  static final String SET_SCOPE_USAGE = """
      update scope_usage as usage
      set used_bytes = replayed.used_bytes, updated_at = replayed.updated_at
      from unnest($1::text[], $2::bigint[], $3::timestamptz[]) as replayed (scope, used_bytes, updated_at)
      where usage.scope = replayed.scope""";

  /** Scope counts, as scope usage: every touched scope gets a row first, then the rows are locked in scope order. */
  static final String ENSURE_COUNTS = """
      insert into scope_counts (scope)
      select scope from unnest($1::text[]) as touched (scope)
      order by scope
      on conflict (scope) do nothing""";

  static final String LOCK_COUNTS = """
      select scope, repositories, manifests from scope_counts
      where scope = any($1::text[])
      order by scope
      for update""";

  static final String SET_COUNTS = """
      update scope_counts as counts
      set repositories = replayed.repositories, manifests = replayed.manifests
      from unnest($1::text[], $2::bigint[], $3::bigint[]) as replayed (scope, repositories, manifests)
      where counts.scope = replayed.scope""";

  static final String ADD_HOURLY_USAGE = """
      insert into usage_hourly as hourly (scope, hour, storage_high_water, ingress_bytes, egress_bytes, pushes, pulls,
                                          repositories_high_water, manifests_high_water,
                                          storage_close, repositories_close, manifests_close)
      select * from unnest($1::text[], $2::timestamptz[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[],
                           $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[])
      on conflict (scope, hour) do update set
        storage_high_water = greatest(hourly.storage_high_water, excluded.storage_high_water),
        repositories_high_water = greatest(hourly.repositories_high_water, excluded.repositories_high_water),
        manifests_high_water = greatest(hourly.manifests_high_water, excluded.manifests_high_water),
        -- A namespace's batches are applied in its stream's order: a later batch's close is the later one.
        storage_close = coalesce(excluded.storage_close, hourly.storage_close),
        repositories_close = coalesce(excluded.repositories_close, hourly.repositories_close),
        manifests_close = coalesce(excluded.manifests_close, hourly.manifests_close),
        ingress_bytes = hourly.ingress_bytes + excluded.ingress_bytes,
        egress_bytes = hourly.egress_bytes + excluded.egress_bytes,
        pushes = hourly.pushes + excluded.pushes,
        pulls = hourly.pulls + excluded.pulls""";

  static final String ADD_USER_TRAFFIC = """
      insert into user_traffic_hourly as hourly (user_name, repository, hour, ingress_bytes, egress_bytes, pushes, pulls)
      select * from unnest($1::text[], $2::text[], $3::timestamptz[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])
      on conflict (user_name, repository, hour) do update set
        ingress_bytes = hourly.ingress_bytes + excluded.ingress_bytes,
        egress_bytes = hourly.egress_bytes + excluded.egress_bytes,
        pushes = hourly.pushes + excluded.pushes,
        pulls = hourly.pulls + excluded.pulls""";

  static final String RECORD_REJECTIONS = """
      insert into rejections (event_id, occurred_at, repository, scope, user_name, resource, requested, usage, limit_bytes, reason)
      select * from unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[],
                           $7::bigint[], $8::bigint[], $9::bigint[], $10::text[])
      on conflict (event_id) do nothing""";

  /** Intents closed by the batch (an intent opened again later in it is inserted after). */
  static final String CLOSE_INTENTS = """
      delete from open_intents as intent
      using unnest($1::text[], $2::text[]) as closed (namespace, request_id)
      where intent.namespace = closed.namespace and intent.request_id = closed.request_id""";

  /** An intent already open stays as it was opened. */
  static final String OPEN_INTENTS = """
      insert into open_intents (namespace, request_id, what, repository, digest, session_id, size, refs, opened_at)
      select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[],
                           $9::timestamptz[])
      on conflict (namespace, request_id) do nothing""";

  /**
   * Only ever forward: a batch redelivered late must not move a namespace's position back, nor its
   * sequence number (events from a Redis with older state number below it until it is restored).
   */
  static final String ADVANCE_PROGRESS = """
      insert into namespace_progress as progress (namespace, last_stream_ms, last_stream_seq, last_sequence)
      select * from unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[])
      on conflict (namespace) do update set
        last_stream_ms = case when (excluded.last_stream_ms, excluded.last_stream_seq)
                                   > (progress.last_stream_ms, progress.last_stream_seq)
                              then excluded.last_stream_ms else progress.last_stream_ms end,
        last_stream_seq = case when (excluded.last_stream_ms, excluded.last_stream_seq)
                                    > (progress.last_stream_ms, progress.last_stream_seq)
                               then excluded.last_stream_seq else progress.last_stream_seq end,
        last_sequence = greatest(progress.last_sequence, excluded.last_sequence)""";

  /** Taken before a batch records its events: see Ledger.lockProgress. */
  static final String LOCK_PROGRESS = """
      select namespace, last_stream_ms, last_stream_seq, last_sequence from namespace_progress
      where namespace = any($1::text[])
      order by namespace
      for update""";

  /** The namespaces of $1 a reconciliation changed, with the newest stream entry time its change may include. */
  static final String RECOUNTS_DUE = """
      select namespace, until_ms from namespace_recounts where namespace = any($1::text[])""";

  /** Recounting ends once a namespace's batch is past its mark ($2: the batch's newest entry time). */
  static final String END_RECOUNTS = """
      delete from namespace_recounts as due
      using unnest($1::text[], $2::bigint[]) as passed (namespace, ms)
      where due.namespace = passed.namespace and due.until_ms < passed.ms""";

  /**
   * The hour a correction lands in: this one, in UTC whatever the session's time zone. A recount that moves a figure
   * records it there, high water and close, so that reports carry the corrected level from then on (see V13).
   */
  static final String THIS_HOUR = "(date_trunc('hour', now() at time zone 'UTC') at time zone 'UTC')";

  /** Records the storage levels a recount changed ({@code changed (scope, bytes)}) in this hour's rows. */
  static final String STORAGE_CORRECTED = """
      insert into usage_hourly as hourly (scope, hour, storage_high_water, storage_close)
      select scope, %s, bytes, bytes from changed
      on conflict (scope, hour) do update set
        storage_high_water = greatest(hourly.storage_high_water, excluded.storage_high_water),
        storage_close = excluded.storage_close""".formatted(THIS_HOUR);

  /**
   * Records the counts a recount changed ({@code changed (scope, repositories, manifests)}, null where that count did
   * not change) in this hour's rows.
   */
  static final String COUNTS_CORRECTED = """
      insert into usage_hourly as hourly (scope, hour, repositories_high_water, repositories_close, manifests_high_water,
                                          manifests_close)
      select scope, %s, coalesce(repositories, 0), repositories, coalesce(manifests, 0), manifests from changed
      on conflict (scope, hour) do update set
        repositories_high_water = greatest(hourly.repositories_high_water, excluded.repositories_high_water),
        repositories_close = coalesce(excluded.repositories_close, hourly.repositories_close),
        manifests_high_water = greatest(hourly.manifests_high_water, excluded.manifests_high_water),
        manifests_close = coalesce(excluded.manifests_close, hourly.manifests_close)""".formatted(THIS_HOUR);

  /**
   * Sets every scope of a namespace ($1, $2 its LIKE pattern) to the total size of the distinct digests
   * linked at or under it, and 0 where none is (as the reconciliation's finish computes it, for one namespace);
   * a level it changes is recorded in this hour.
   */
  static final String RECOUNT_NAMESPACE = """
      with link_scopes as (
        select distinct array_to_string(path[1:depth], '/') as scope, link.digest
        from repository_blobs as link
        cross join lateral string_to_array(link.repository, '/') as path
        cross join lateral generate_series(1, cardinality(path)) as depth
        where link.repository = $1 or link.repository like $2
      ),
      found as (
        select s.scope, sum(blob.size)::bigint as bytes
        from link_scopes as s
        join blobs as blob on blob.digest = s.digest
        group by s.scope
      ),
      held as (
        select scope, used_bytes from scope_usage where scope = $1 or scope like $2
      ),
      -- Every CTE reads the statement's starting snapshot: held is the level before this recount.
      recounted as (
        insert into scope_usage (scope, used_bytes, updated_at)
        select coalesce(found.scope, held.scope), coalesce(found.bytes, 0), now()
        from found
        full join held on held.scope = found.scope
        on conflict (scope) do update set used_bytes = excluded.used_bytes, updated_at = excluded.updated_at
        returning scope, used_bytes
      ),
      changed as (
        select recounted.scope, recounted.used_bytes as bytes
        from recounted left join held on held.scope = recounted.scope
        where coalesce(held.used_bytes, 0) <> recounted.used_bytes
      )
      """ + STORAGE_CORRECTED;

  /**
   * The counts of every scope from the links and manifests (as {@link CountsByScope} adds them up): a
   * repository linking anything counts 1, and its manifests count, in every scope of its path. The
   * placeholder selects the repositories.
   */
  private static final String COUNTS_FROM_LINKS = """
      select scope, sum(filled)::bigint as repositories, sum(held)::bigint as manifests
      from (
        select repository, 1 as filled, 0 as held from repository_blobs where %1$s group by repository
        union all
        select repository, 0, count(*) from manifests where %1$s group by repository
      ) as per_repository
      cross join lateral string_to_array(repository, '/') as path
      cross join lateral generate_series(1, cardinality(path)) as depth
      cross join lateral (select array_to_string(path[1:depth], '/') as scope) as prefix
      group by scope""";

  /** Sets the counts of every scope of a namespace ($1, $2 its LIKE pattern) from its links and manifests, 0 where none. */
  static final String RECOUNT_NAMESPACE_COUNTS = countsRecount("(repository = $1 or repository like $2)", "scope = $1 or scope like $2");

  /** Every scope's counts from all links and manifests, 0 where none (a reconciliation's finish). */
  static final String RECOUNT_ALL_COUNTS = countsRecount("true", "true");

  /**
   * Sets the counts of the scopes of {@code scopes} from the links and manifests of {@code repositories}, 0 where
   * none, and records each count it changes in this hour.
   */
  private static String countsRecount(String repositories, String scopes) {
    return """
        with found as (%s),
        held as (
          select scope, repositories, manifests from scope_counts where %s
        ),
        -- Every CTE reads the statement's starting snapshot: held is the counts before this recount.
        recounted as (
          insert into scope_counts (scope, repositories, manifests)
          select coalesce(found.scope, held.scope), coalesce(found.repositories, 0), coalesce(found.manifests, 0)
          from found
          full join held on held.scope = found.scope
          on conflict (scope) do update set repositories = excluded.repositories, manifests = excluded.manifests
          returning scope, repositories, manifests
        ),
        changed as (
          select recounted.scope,
                 case when coalesce(held.repositories, 0) <> recounted.repositories then recounted.repositories end as repositories,
                 case when coalesce(held.manifests, 0) <> recounted.manifests then recounted.manifests end as manifests
          from recounted left join held on held.scope = recounted.scope
          where coalesce(held.repositories, 0) <> recounted.repositories or coalesce(held.manifests, 0) <> recounted.manifests
        )
        """.formatted(COUNTS_FROM_LINKS.formatted(repositories), scopes) + COUNTS_CORRECTED;
  }

  /** A scope's counts as the ledger holds them (none: 0). */
  static final String SCOPE_COUNTS = """
      select repositories, manifests from scope_counts where scope = $1""";

  // ---- Reading --------------------------------------------------------------------------------
  // "In a namespace" is: the namespace itself, or anything under "<namespace>/". $2 is that prefix as a
  // LIKE pattern (see underPattern), which the text_pattern_ops indexes serve.

  static final String SCOPE_USAGE = """
      select used_bytes from scope_usage where scope = $1""";

  static final String NAMESPACE_USAGE = """
      select scope, used_bytes from scope_usage
      where scope = $1 or scope like $2
      order by scope""";

  static final String RECORDED_EVENTS = """
      select event_id from ledger_events where event_id = any($1::text[])""";

  static final String PROGRESS = """
      select last_stream_ms, last_stream_seq, last_sequence from namespace_progress where namespace = $1""";

  /** For a snapshot: read everything after as of one moment, and write nothing. */
  static final String CONSISTENT_READ = """
      set transaction isolation level repeatable read, read only""";

  static final String NAMESPACE_LINKS = """
      select link.repository, link.digest, blob.size
      from repository_blobs as link
      join blobs as blob on blob.digest = link.digest
      where link.repository = $1 or link.repository like $2""";

  /** Links per repository of a namespace, for its counts (CountsByScope). */
  static final String NAMESPACE_LINK_COUNTS = """
      select repository, count(*) as held from repository_blobs
      where repository = $1 or repository like $2 group by repository""";

  /** Manifests per repository of a namespace, for its counts (CountsByScope). */
  static final String NAMESPACE_MANIFEST_COUNTS = """
      select repository, count(*) as held from manifests
      where repository = $1 or repository like $2 group by repository""";

  /** A manifest without references comes back once, with a null reference. */
  static final String NAMESPACE_MANIFESTS = """
      select manifest.repository, manifest.digest, reference.digest as reference
      from manifests as manifest
      left join manifest_references as reference
        on reference.repository = manifest.repository and reference.manifest_digest = manifest.digest
      where manifest.repository = $1 or manifest.repository like $2""";

  /** Links removed (V14): the latest time each left its repository. */
  static final String RECORD_FREES = """
      insert into recent_frees as freed (repository, digest, freed_at)
      select * from unnest($1::text[], $2::text[], $3::timestamptz[])
      on conflict (repository, digest) do update set freed_at = greatest(freed.freed_at, excluded.freed_at)""";

  /** A namespace's links removed in the last hour (the restore writes them back into qp:{T}:freed). */
  static final String NAMESPACE_FREES = """
      select repository, digest, freed_at from recent_frees
      where (repository = $1 or repository like $2) and freed_at >= now() - interval '1 hour'
      order by repository, digest""";

  static final String NAMESPACE_INTENTS = """
      select request_id, what, repository, digest, session_id, size, refs from open_intents
      where namespace = $1
      order by request_id""";

  /** A namespace with only an open intent is one too: restored, the intent is settled. */
  static final String NAMESPACES = """
      select split_part(repository, '/', 1) as namespace from repository_blobs
      union
      select split_part(repository, '/', 1) from manifests
      union
      select namespace from open_intents
      order by namespace""";

  /** The LIKE pattern for everything under {@code <namespace>/}, with LIKE's wildcards ('_' is common in names) escaped. */
  static String underPattern(String namespace) {
    return namespace.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%";
  }

  // ---- Binding rows as column arrays ------------------------------------------------------------

  /**
   * The column arrays as one tuple, each array one parameter. ({@code Tuple.of} would take a second
   * array argument as its varargs and spread it into parameters.)
   */
  static Tuple columns(Object[]... arrays) {
    Tuple tuple = Tuple.tuple();
    for (Object[] array : arrays) {
      tuple.addValue(array);
    }
    return tuple;
  }

  static <R> String[] texts(Collection<R> rows, Function<R, String> column) {
    return rows.stream().map(column).toArray(String[]::new);
  }

  static <R> Long[] longs(Collection<R> rows, ToLongFunction<R> column) {
    return rows.stream().map(row -> column.applyAsLong(row)).toArray(Long[]::new);
  }

  static <R> OffsetDateTime[] times(Collection<R> rows, Function<R, Instant> column) {
    return rows.stream().map(row -> utc(column.apply(row))).toArray(OffsetDateTime[]::new);
  }

  /** The client binds {@code timestamptz} as OffsetDateTime; UTC, so nothing depends on a zone. */
  static OffsetDateTime utc(Instant instant) {
    return instant.atOffset(ZoneOffset.UTC);
  }
}
