package dev.quotaproxy.ledger.events;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The webhook delivery log the admin API serves: deliveries newest first, each with its event and every attempt. */
public final class DeliveryLog {
  private final Pool pool;

  public DeliveryLog(Pool pool) {
    this.pool = pool;
  }

  /** Filters, each null for any; {@code scope} takes the scope and every scope under it. */
  public record Query(String state, String type, String endpoint, String scope, Instant from, Instant to, int offset, int limit) {}

  public record Attempt(int attempt, Instant at, Integer status, String error, long durationMillis) {}

  public record Delivery(long id, String eventId, String type, String scope, Instant occurredAt, JsonObject data, String endpoint,
      String url, String state, int attempts, Instant createdAt, Instant nextAttemptAt, Instant finishedAt, Integer lastStatus,
      String lastError, List<Attempt> attemptLog) {}

  public record Page(long total, List<Delivery> deliveries) {}

  private static final String WHERE = """
       where ($1::text is null or d.state = $1) and ($2::text is null or e.type = $2)
         and ($3::text is null or d.endpoint = $3)
         and ($4::text is null or e.scope = $4 or e.scope like $5 escape '\\')
         and ($6::timestamptz is null or d.created_at >= $6) and ($7::timestamptz is null or d.created_at < $7)""";

  public Future<Page> page(Query query) {
    Tuple filters = Tuple.tuple().addValue(query.state()).addValue(query.type()).addValue(query.endpoint()).addValue(query.scope())
        .addValue(query.scope() == null ? null : like(query.scope()) + "/%").addValue(utc(query.from())).addValue(utc(query.to()));
    String from = " from webhook_deliveries d join quota_events e on e.id = d.event_id ";
    return pool.preparedQuery("select count(*)" + from + WHERE).execute(filters).compose(count -> pool.preparedQuery("""
        select d.id, e.event_uuid::text as event_uuid, e.type, e.scope, e.occurred_at, e.payload::text as payload, d.endpoint,
          d.url, d.state, d.attempts, d.created_at, d.next_attempt_at, d.finished_at, d.last_status, d.last_error""" + from + WHERE
        + " order by d.created_at desc, d.id desc offset $8 limit $9")
        .execute(copy(filters).addInteger(query.offset()).addInteger(query.limit()))
        .compose(rows -> {
          Map<Long, Row> byId = new LinkedHashMap<>();
          rows.forEach(row -> byId.put(row.getLong("id"), row));
          if (byId.isEmpty()) {
            return Future.succeededFuture(new Page(count.iterator().next().getLong(0), List.of()));
          }
          return pool.preparedQuery("select delivery_id, attempt, at, status, error, duration_ms from webhook_attempts"
              + " where delivery_id = any($1::bigint[]) order by delivery_id, attempt")
              .execute(Tuple.of(byId.keySet().toArray(Long[]::new)))
              .map(attemptRows -> {
                Map<Long, List<Attempt>> attempts = new LinkedHashMap<>();
                attemptRows.forEach(a -> attempts.computeIfAbsent(a.getLong("delivery_id"), id -> new ArrayList<>())
                    .add(new Attempt(a.getInteger("attempt"), instant(a.getOffsetDateTime("at")), a.getInteger("status"),
                        a.getString("error"), a.getLong("duration_ms"))));
                List<Delivery> deliveries = new ArrayList<>();
                byId.forEach((id, row) -> deliveries.add(new Delivery(id, row.getString("event_uuid"), row.getString("type"),
                    row.getString("scope"), instant(row.getOffsetDateTime("occurred_at")), new JsonObject(row.getString("payload")),
                    row.getString("endpoint"), row.getString("url"), row.getString("state"), row.getInteger("attempts"),
                    instant(row.getOffsetDateTime("created_at")), instant(row.getOffsetDateTime("next_attempt_at")),
                    instant(row.getOffsetDateTime("finished_at")), row.getInteger("last_status"), row.getString("last_error"),
                    List.copyOf(attempts.getOrDefault(id, List.of())))));
                return new Page(count.iterator().next().getLong(0), deliveries);
              });
        }));
  }

  /** How many deliveries are pending and how many failed, for the gauges (delivered ones are not counted). */
  public Future<Map<String, Long>> unfinished() {
    return pool.query("select state, count(*) as n from webhook_deliveries where state <> 'delivered' group by state").execute()
        .map(rows -> {
          Map<String, Long> counts = new LinkedHashMap<>(Map.of("pending", 0L, "failed", 0L));
          rows.forEach(row -> counts.put(row.getString("state"), row.getLong("n")));
          return counts;
        });
  }

  private static Tuple copy(Tuple tuple) {
    Tuple copy = Tuple.tuple();
    for (int i = 0; i < tuple.size(); i++) {
      copy.addValue(tuple.getValue(i));
    }
    return copy;
  }

  /** A scope as a LIKE prefix: its own '%', '_' and '\' taken literally. */
  private static String like(String scope) {
    return scope.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_");
  }

  private static OffsetDateTime utc(Instant at) {
    return at == null ? null : OffsetDateTime.ofInstant(at, ZoneOffset.UTC);
  }

  private static Instant instant(OffsetDateTime at) {
    return at == null ? null : at.toInstant();
  }
}
