package dev.quotaproxy.ledger.reports;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowStream;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Usage reports from the ledger's hourly and daily tables, streamed through a cursor: rows are
 * fetched from Postgres as the sink takes them, so a report of any length costs the memory of one
 * fetch. Non-blocking.
 *
 * <p>Days rolled up by retention are in {@code usage_daily}, later hours in {@code usage_hourly};
 * a report reads both. In an hourly report a rolled-up day is one row at its 00:00 (its hours are
 * gone); in a daily report, a day partly in both tables (hours that arrived after its roll-up) is
 * one row, counters summed, each figure's high water the higher and its close that of the latest
 * source row where it changed (the day's hours after its roll-up are later than the daily row).
 */
public final class Reports {
  /** Rows per round trip of the cursor. */
  static final int FETCH = 500;

  private final Pool pool;

  public Reports(Pool pool) {
    this.pool = pool;
  }

  /**
   * Streams the report's rows into {@code sink}, in key then bucket order, and gives its totals
   * once the last row is in the sink. Fails, and stops reading, if the sink's reader goes away.
   */
  public Future<ReportTotals> stream(ReportQuery query, ReportSink sink) {
    if (query.by() == By.GROUP && query.groups().isEmpty()) {
      return Future.succeededFuture(new ReportAccumulator(By.GROUP, row -> {}).finish());
    }
    ReportAccumulator report = new ReportAccumulator(query.by(), query.shares(), sink::row);
    return cursor(sql(query), parameters(query),
        (key, part, bucket, day, highWater, close, ingress, egress, pushes, pulls, repositories, repositoriesClose, manifests,
            manifestsClose) -> report.add(key, part, bucket, highWater, close, ingress, egress, pushes, pulls, repositories,
                repositoriesClose, manifests, manifestsClose),
        sink).map(done -> report.finish());
  }

  /**
   * A row of the report query as Postgres gives it, without its counts (which nothing prices).
   * {@code day}: the bucket holds a day rolled up by retention (its hours are gone); {@code close}: the
   * storage the bucket closed at, null when storage did not change in it (see {@link ReportAccumulator#add}).
   */
  public interface LedgerRows {
    void add(String key, String part, Instant bucket, boolean day, long highWater, Long close, long ingress, long egress,
        long pushes, long pulls);
  }

  /** A row of the report query as Postgres gives it: see {@link ReportAccumulator#add}. */
  private interface CountedRows {
    void add(String key, String part, Instant bucket, boolean day, long highWater, Long close, long ingress, long egress,
        long pushes, long pulls, long repositoriesHighWater, Long repositoriesClose, long manifestsHighWater,
        Long manifestsClose);
  }

  /**
   * The rows of a report by scope or group, by hour, as the query gives them (key, then each key's
   * seeds, then bucket, then part), for a caller that adds them up itself (the chargeback statement).
   * By scope the keys are the outermost scopes only: the namespaces, or the roots of {@code scopes}, so
   * that nothing is counted twice. Held by the caller, so there is no backpressure: the caller keeps a
   * summary per key, not the rows.
   */
  public Future<Void> hourlyRows(ReportQuery query, LedgerRows rows) {
    if (query.by() != By.SCOPE && query.by() != By.GROUP || query.period().granularity() != Granularity.HOUR) {
      throw new IllegalArgumentException("hourly rows are by scope or group, by hour");
    }
    if (query.by() == By.GROUP && query.groups().isEmpty()) {
      return Future.succeededFuture();
    }
    String sql = query.by() == By.GROUP ? sql(query) : REPORT.formatted(OUTERMOST_SCOPES, "at");
    return cursor(sql, parameters(query),
        (key, part, bucket, day, highWater, close, ingress, egress, pushes, pulls, repositories, repositoriesClose, manifests,
            manifestsClose) -> rows.add(key, part, bucket, day, highWater, close, ingress, egress, pushes, pulls),
        UNBOUNDED);
  }

  private static final ReportSink UNBOUNDED = new ReportSink() {
    @Override
    public void row(ReportRow row) {}

    @Override
    public boolean full() {
      return false;
    }

    @Override
    public void whenDrained(Runnable resume) {}
  };

  private Future<Void> cursor(String sql, Tuple parameters, CountedRows handler, ReportSink sink) {
    return pool.getConnection().compose(connection -> connection.begin()
        .compose(tx -> connection.prepare(sql)
            .compose(statement -> {
              Promise<Void> done = Promise.promise();
              RowStream<Row> rows = statement.createStream(FETCH, parameters);
              sink.onGone(() -> {
                rows.close();
                done.tryFail("the report's reader went away");
              });
              rows.exceptionHandler(done::tryFail);
              rows.endHandler(v -> done.tryComplete());
              rows.handler(row -> {
                try {
                  OffsetDateTime bucket = row.getOffsetDateTime("bucket");
                  handler.add(row.getString("key"), row.getString("part"), bucket == null ? null : bucket.toInstant(),
                      row.getBoolean("daily"), row.getLong("hw"), row.getLong("sc"), row.getLong("ingress"), row.getLong("egress"),
                      row.getLong("pushes"), row.getLong("pulls"), row.getLong("rhw"), row.getLong("rc"), row.getLong("mhw"),
                      row.getLong("mc"));
                } catch (RuntimeException e) {
                  // Thrown here it would reach no one and leave the report (and its connection) hanging.
                  rows.close();
                  done.tryFail(e);
                  return;
                }
                if (sink.full()) {
                  rows.pause();
                  sink.whenDrained(rows::resume);
                }
              });
              return done.future().eventually(() -> statement.close());
            })
            // Read only: nothing to commit; ending it closes the cursor.
            .eventually(() -> tx.rollback()))
        .eventually(connection::close));
  }

  // ---- SQL ------------------------------------------------------------------------------------
  // $1 from, $2 to (timestamptz), $3 the scope roots (text[]), $4 every scope (boolean: $3 ignored),
  // $5/$6 for groups: (group, root) pairs as two text[].

  /** Rows of scopes (or of repositories under them) in [$3], every one when $4. */
  private static final String IN_SCOPES = """
      ($4 or exists (select 1 from unnest($3::text[]) as root (prefix)
                     where %1$s = root.prefix or starts_with(%1$s, root.prefix || '/')))""";

  /** The columns of a row, from {@link #SCOPE_ROWS} or {@link #USER_ROWS} on. */
  private static final String FIGURES = "at, daily, hw, sc, ingress, egress, pushes, pulls, rhw, rc, mhw, mc";

  /**
   * hw, rhw, mhw: each figure's high water in the bucket (0: no change there); sc, rc, mc: the level it
   * closed at, null when it did not change there. A row written before closes were recorded (close null,
   * high water above 0) closes at its high water: the best there is for it. daily: a day rolled up.
   */
  private static final String SCOPE_ROWS = """
      select scope, at, daily, hw, coalesce(sc, nullif(hw, 0)) as sc, ingress, egress, pushes, pulls,
             rhw, coalesce(rc, nullif(rhw, 0)) as rc, mhw, coalesce(mc, nullif(mhw, 0)) as mc from (
        select scope, hour as at, false as daily, storage_high_water as hw, storage_close as sc, ingress_bytes as ingress,
               egress_bytes as egress, pushes, pulls, repositories_high_water as rhw, repositories_close as rc,
               manifests_high_water as mhw, manifests_close as mc
        from usage_hourly
        union all
        select scope, day::timestamp at time zone 'UTC', true, storage_high_water, storage_close, ingress_bytes, egress_bytes,
               pushes, pulls, repositories_high_water, repositories_close, manifests_high_water, manifests_close
        from usage_daily
      ) as usage
      where at < $2 and """ + IN_SCOPES.formatted("scope");

  /** The outermost scopes only: every namespace ($4), or exactly the roots asked for ($3). */
  private static final String OUTERMOST_SCOPES = "select scope as key, scope as part, " + FIGURES + " from ("
      + SCOPE_ROWS + ") as rows where ($4 and strpos(scope, '/') = 0) or scope = any($3::text[])";

  /**
   * A repository is a scope the ledger has seen as one: linked a blob, listed a manifest or metered
   * traffic in it. One lookup per scope, each on an index that starts with the repository (except the
   * daily user rows, which are few).
   */
  private static final String REPOSITORIES_ONLY = """
       and (exists (select 1 from repository_blobs as link where link.repository = scope)
            or exists (select 1 from manifests as manifest where manifest.repository = scope)
            or exists (select 1 from user_traffic_hourly as hourly where hourly.repository = scope)
            or exists (select 1 from user_traffic_daily as daily where daily.repository = scope))""";

  private static final String USER_ROWS = """
      select user_name, at, daily, 0::bigint as hw, null::bigint as sc, ingress, egress, pushes, pulls, 0::bigint as rhw,
             null::bigint as rc, 0::bigint as mhw, null::bigint as mc from (
        select user_name, repository, hour as at, false as daily, ingress_bytes as ingress, egress_bytes as egress, pushes, pulls
        from user_traffic_hourly
        union all
        select user_name, repository, day::timestamp at time zone 'UTC', true, ingress_bytes, egress_bytes, pushes, pulls
        from user_traffic_daily
      ) as traffic
      where at < $2 and at >= $1 and """ + IN_SCOPES.formatted("repository");

  /**
   * Period rows per key, part and bucket, and each part's seeds: the level its storage closed at last
   * before the period, and likewise each count, each a row of its own (each the last recorded, maybe in
   * different buckets; the other figures 0 or null, which a seed does not take). A bucket of several rows
   * (a day of hours, or a day partly rolled up) closes where the latest of them that changed the figure
   * closed: by time, an hour after the day's roll-up before the daily row. Sorted for
   * {@link ReportAccumulator}: key (byte order, so a scope follows its ancestors), seeds first, bucket, part.
   */
  private static final String REPORT = """
      with keyed as (%s),
      period_rows as (
        select key, part, %s as bucket, bool_or(daily) as daily,
               max(hw)::bigint as hw, (array_agg(sc order by at desc, daily) filter (where sc is not null))[1] as sc,
               sum(ingress)::bigint as ingress, sum(egress)::bigint as egress, sum(pushes)::bigint as pushes,
               sum(pulls)::bigint as pulls,
               max(rhw)::bigint as rhw, (array_agg(rc order by at desc, daily) filter (where rc is not null))[1] as rc,
               max(mhw)::bigint as mhw, (array_agg(mc order by at desc, daily) filter (where mc is not null))[1] as mc
        from keyed where at >= $1
        group by 1, 2, 3
      ),
      seeds as (
        select * from (
          select distinct on (key, part) key, part, null::timestamptz as bucket, false as daily, 0::bigint as hw, sc,
                 0::bigint as ingress, 0::bigint as egress, 0::bigint as pushes, 0::bigint as pulls,
                 0::bigint as rhw, null::bigint as rc, 0::bigint as mhw, null::bigint as mc
          from keyed where at < $1 and sc is not null
          order by key, part, at desc, daily) as storage_seeds
        union all
        select * from (
          select distinct on (key, part) key, part, null::timestamptz, false, 0::bigint, null::bigint, 0::bigint, 0::bigint,
                 0::bigint, 0::bigint, 0::bigint, rc, 0::bigint, null::bigint
          from keyed where at < $1 and rc is not null
          order by key, part, at desc, daily) as repositories_seeds
        union all
        select * from (
          select distinct on (key, part) key, part, null::timestamptz, false, 0::bigint, null::bigint, 0::bigint, 0::bigint,
                 0::bigint, 0::bigint, 0::bigint, null::bigint, 0::bigint, mc
          from keyed where at < $1 and mc is not null
          order by key, part, at desc, daily) as manifests_seeds
      )
      select * from (select * from seeds union all select * from period_rows) as report
      order by key collate "C", bucket nulls first, part collate "C"
      """;

  static String sql(ReportQuery query) {
    String keyed = switch (query.by()) {
      case SCOPE -> "select scope as key, scope as part, " + FIGURES + " from (" + SCOPE_ROWS + ") as rows";
      case REPOSITORY -> "select scope as key, scope as part, " + FIGURES + " from (" + SCOPE_ROWS + REPOSITORIES_ONLY
          + ") as rows";
      case GROUP -> "select member.group_name as key, rows.scope as part, " + FIGURES + " from (" + SCOPE_ROWS
          + ") as rows join unnest($5::text[], $6::text[]) as member (group_name, scope) on member.scope = rows.scope";
      case USER -> "select user_name as key, user_name as part, " + FIGURES + " from (" + USER_ROWS + ") as rows";
    };
    String bucket = query.period().granularity() == Granularity.HOUR ? "at" : "date_trunc('day', at, 'UTC')";
    return REPORT.formatted(keyed, bucket);
  }

  static Tuple parameters(ReportQuery query) {
    Tuple tuple = Tuple.tuple()
        .addValue(utc(query.period().from()))
        .addValue(utc(query.period().to()));
    if (query.by() == By.GROUP) {
      List<String> groups = new ArrayList<>();
      List<String> roots = new ArrayList<>();
      for (Map.Entry<String, ScopeSet> group : query.groups().entrySet()) {
        for (String root : group.getValue().roots()) {
          groups.add(group.getKey());
          roots.add(root);
        }
      }
      // The rows read are those of every group's roots, exactly: the join keeps only them.
      tuple.addValue(roots.stream().distinct().toArray(String[]::new)).addValue(false)
          .addValue(groups.toArray(String[]::new)).addValue(roots.toArray(String[]::new));
    } else {
      tuple.addValue(query.scopes().map(set -> set.roots().toArray(String[]::new)).orElse(new String[0]))
          .addValue(query.scopes().isEmpty());
    }
    return tuple;
  }

  private static OffsetDateTime utc(Instant instant) {
    return instant.atOffset(ZoneOffset.UTC);
  }
}
