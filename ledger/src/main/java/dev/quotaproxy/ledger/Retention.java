package dev.quotaproxy.ledger;

import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

/**
 * Keeps the ledger's detail bounded: hourly usage and user traffic older than the retention period
 * become daily rows, event ids old enough never to be redelivered are forgotten, frees older than an hour go, and refusals and quota events
 * older than the retention period go. Non-blocking.
 *
 * <p>Each hourly row is moved (deleted and added into its day) by one statement, and the whole run is
 * one transaction: a row is in its hour or in its day, never both, so no run, repeated or cut short,
 * counts a row twice.
 */
public final class Retention {

  /**
   * What a run did.
   *
   * @param usageHours       {@code usage_hourly} rows rolled up
   * @param usageDays        {@code usage_daily} rows they were added into
   * @param userTrafficHours {@code user_traffic_hourly} rows rolled up
   * @param userTrafficDays  {@code user_traffic_daily} rows they were added into
   * @param eventIdsPruned   {@code ledger_events} ids forgotten
   * @param quotaEventsPruned {@code quota_events} removed, with their deliveries and attempts
   * @param rejectionsPruned {@code rejections} removed
   * @param freesPruned      {@code recent_frees} older than an hour removed (Redis keeps frees that long)
   */
  public record RollUp(long usageHours, long usageDays, long userTrafficHours, long userTrafficDays, long eventIdsPruned,
      long quotaEventsPruned, long rejectionsPruned, long freesPruned) {}

  /** How both roll-ups end: a day's traffic adds to what the day had, and the rows rolled and written are counted. */
  private static final String ADD_TRAFFIC_AND_COUNT = """
          ingress_bytes = daily.ingress_bytes + excluded.ingress_bytes,
          egress_bytes = daily.egress_bytes + excluded.egress_bytes,
          pushes = daily.pushes + excluded.pushes,
          pulls = daily.pulls + excluded.pulls
        returning 1
      )
      select (select count(*) from rolled) as hours, (select count(*) from days) as days""";

  // A day is the UTC date of its hours; it closes each figure where its last hour with a change of it did. A day
  // already rolled up (hours that arrived late, after an earlier run) gets the new hours added: counters summed, each
  // high water (storage, counts) the greater of the two, and their closes, being the latest applied, taken.
  private static final String ROLL_UP_USAGE = """
      with rolled as (
        delete from usage_hourly where hour < $1
        returning scope, hour, storage_high_water, ingress_bytes, egress_bytes, pushes, pulls,
                  repositories_high_water, manifests_high_water, storage_close, repositories_close, manifests_close
      ), days as (
        insert into usage_daily as daily (scope, day, storage_high_water, ingress_bytes, egress_bytes, pushes, pulls,
                                          repositories_high_water, manifests_high_water,
                                          storage_close, repositories_close, manifests_close)
        select scope, (hour at time zone 'UTC')::date, max(storage_high_water),
               sum(ingress_bytes)::bigint, sum(egress_bytes)::bigint, sum(pushes)::bigint, sum(pulls)::bigint,
               max(repositories_high_water), max(manifests_high_water),
               (array_agg(storage_close order by hour desc) filter (where storage_close is not null))[1],
               (array_agg(repositories_close order by hour desc) filter (where repositories_close is not null))[1],
               (array_agg(manifests_close order by hour desc) filter (where manifests_close is not null))[1]
        from rolled
        group by 1, 2
        on conflict (scope, day) do update set
          storage_high_water = greatest(daily.storage_high_water, excluded.storage_high_water),
          repositories_high_water = greatest(daily.repositories_high_water, excluded.repositories_high_water),
          manifests_high_water = greatest(daily.manifests_high_water, excluded.manifests_high_water),
          storage_close = coalesce(excluded.storage_close, daily.storage_close),
          repositories_close = coalesce(excluded.repositories_close, daily.repositories_close),
          manifests_close = coalesce(excluded.manifests_close, daily.manifests_close),
""" + ADD_TRAFFIC_AND_COUNT;

  private static final String ROLL_UP_USER_TRAFFIC = """
      with rolled as (
        delete from user_traffic_hourly where hour < $1
        returning user_name, repository, hour, ingress_bytes, egress_bytes, pushes, pulls
      ), days as (
        insert into user_traffic_daily as daily (user_name, repository, day, ingress_bytes, egress_bytes, pushes, pulls)
        select user_name, repository, (hour at time zone 'UTC')::date,
               sum(ingress_bytes)::bigint, sum(egress_bytes)::bigint, sum(pushes)::bigint, sum(pulls)::bigint
        from rolled
        group by 1, 2, 3
        on conflict (user_name, repository, day) do update set
""" + ADD_TRAFFIC_AND_COUNT;

  /**
   * An id only guards against its event being delivered again, which the stream does while it holds
   * the entry; ids applied longer ago than the retention period have outlived that.
   */
  private static final String PRUNE_EVENT_IDS = """
      delete from ledger_events where applied_at < $1""";

  /**
   * Quota events older than the retention period go with their webhook deliveries and attempts (on delete cascade),
   * unless a delivery is still pending: the delivery log keeps what a receiver may still get.
   */
  private static final String PRUNE_QUOTA_EVENTS = """
      delete from quota_events e where e.created_at < $1 and e.fanned_out
        and not exists (select 1 from webhook_deliveries d where d.event_id = e.id and d.state = 'pending')""";

  /**
   * Refused pushes older than the retention period: one row each, written for every refusal a client provokes,
   * so without this the table grows with the refusals, not with what the registry holds.
   */
  private static final String PRUNE_REJECTIONS = """
      delete from rejections where occurred_at < $1""";

  /** Frees Redis no longer keeps (FREED_FOR_MS in common.lua): a restore has no use for them. */
  private static final String PRUNE_FREES = """
      delete from recent_frees where freed_at < $1""";

  private final Pool pool;

  public Retention(Pool pool) {
    this.pool = pool;
  }

  /**
   * Rolls hourly rows from before the start of the UTC day {@code retentionDays} before {@code now}
   * up into days, and forgets event ids applied, and quota events made and refusals recorded, more than
   * {@code retentionDays} before {@code now}.
   */
  public Future<RollUp> rollUp(Instant now, int retentionDays) {
    if (retentionDays < 1) {
      return Future.failedFuture(new IllegalArgumentException("retention must be at least one day, not " + retentionDays));
    }
    Instant keptSince = now.minus(Duration.ofDays(retentionDays));
    // Whole days only, so that a day is never split between its hours and its daily row.
    Tuple hoursBefore = Tuple.of(LedgerSql.utc(keptSince.truncatedTo(ChronoUnit.DAYS)));
    Tuple appliedBefore = Tuple.of(LedgerSql.utc(keptSince));
    return pool.withTransaction(connection -> rollUp(connection, ROLL_UP_USAGE, hoursBefore)
        .compose(usage -> rollUp(connection, ROLL_UP_USER_TRAFFIC, hoursBefore)
            .compose(userTraffic -> connection.preparedQuery(PRUNE_EVENT_IDS).execute(appliedBefore)
                .compose(pruned -> connection.preparedQuery(PRUNE_QUOTA_EVENTS).execute(appliedBefore)
                    .compose(events -> connection.preparedQuery(PRUNE_REJECTIONS).execute(appliedBefore)
                        .compose(rejections -> connection.preparedQuery(PRUNE_FREES)
                            .execute(Tuple.of(LedgerSql.utc(now.minus(Duration.ofHours(1)))))
                            .map(frees -> new RollUp(usage.getLong("hours"), usage.getLong("days"), userTraffic.getLong("hours"),
                                userTraffic.getLong("days"), pruned.rowCount(), events.rowCount(), rejections.rowCount(),
                                frees.rowCount()))))))));
  }

  private static Future<Row> rollUp(SqlConnection connection, String sql, Tuple hoursBefore) {
    return connection.preparedQuery(sql).execute(hoursBefore).map(rows -> rows.iterator().next());
  }
}
