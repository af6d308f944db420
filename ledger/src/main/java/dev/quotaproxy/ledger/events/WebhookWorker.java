package dev.quotaproxy.ledger.events;

import dev.quotaproxy.config.EventsConfig;
import dev.quotaproxy.config.QuotaEventType;
import dev.quotaproxy.config.WebhookEndpoint;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
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
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends quota events to their webhooks, from the outbox the ledger fills ({@link QuotaEventRecorder}). Every proxy
 * runs one, on one Postgres; each poll it (1) announces a change of the read-only state ({@link SystemSwitch}),
 * (2) fans new events out into one delivery per endpoint that takes them, and (3) sends the deliveries that are
 * due. Rows are taken with {@code FOR UPDATE SKIP LOCKED}, so several proxies share the work without sending an
 * event twice; a delivery is claimed for a lease (its attempt counted, its next attempt moved past the request's
 * timeout) before it is sent, outside any transaction, and a proxy that dies mid-send leaves it due again when
 * the lease ends. So a receiver may, rarely, get a delivery twice: it keys on {@code X-Quota-Event-Id}.
 *
 * <p>Non-blocking: Postgres and the HTTP client are Vert.x's; one poll at a time.
 */
public final class WebhookWorker {
  private static final Logger LOG = LoggerFactory.getLogger(WebhookWorker.class);
  private static final int FAN_OUT_BATCH = 200;
  private static final int SEND_BATCH = 32;

  private final Vertx vertx;
  private final Pool pool;
  private final EventsConfig config;
  private final Map<String, WebhookEndpoint> endpoints = new LinkedHashMap<>();
  private final RetrySchedule schedule;
  private final HttpClient client;
  private long timer = -1;
  private volatile boolean polling;
  /** The last problem logged: one that repeats every poll (Postgres down) is logged once, not every second. */
  private volatile String lastProblem;

  public WebhookWorker(Vertx vertx, Pool pool, EventsConfig config) {
    this.vertx = vertx;
    this.pool = pool;
    this.config = config;
    config.webhooks().forEach(endpoint -> endpoints.put(endpoint.name(), endpoint));
    this.schedule = new RetrySchedule(config.retryFirst(), config.retryMax(), config.giveUpAfter());
    int timeout = (int) Math.min(Integer.MAX_VALUE, config.requestTimeout().toMillis());
    this.client = vertx.createHttpClient(new HttpClientOptions().setConnectTimeout(timeout).setIdleTimeout(timeout)
        .setIdleTimeoutUnit(TimeUnit.MILLISECONDS), new PoolOptions().setHttp1MaxSize(8));
  }

  /** Polls every {@code events.poll-interval} until {@link #stop()}. */
  public WebhookWorker start() {
    timer = vertx.setPeriodic(config.pollInterval().toMillis(), id -> poll());
    return this;
  }

  public Future<Void> stop() {
    if (timer != -1) {
      vertx.cancelTimer(timer);
      timer = -1;
    }
    return client.close();
  }

  private void poll() {
    if (polling) {
      return;
    }
    polling = true;
    pollOnce().onComplete(done -> polling = false);
  }

  /** One poll: the read-only state, the fan-out, the deliveries due. Each step's failure is logged and the next goes on. */
  public Future<Void> pollOnce() {
    return SystemSwitch.check(pool).recover(e -> logged("read-only state not checked", e))
        .compose(v -> fanOut().recover(e -> logged("quota events not fanned out", e)))
        .compose(v -> deliverDue().recover(e -> logged("webhook deliveries not sent", e)));
  }

  private Future<Void> logged(String what, Throwable e) {
    String problem = what + ": " + e;
    if (!problem.equals(lastProblem)) {
      LOG.warn("{} (tried again every poll; logged again when the problem changes)", problem);
      lastProblem = problem;
    }
    return Future.succeededFuture();
  }

  /** New events become one pending delivery per endpoint that takes them; events none takes are only marked. */
  Future<Void> fanOut() {
    return pool.withTransaction(connection -> connection.preparedQuery("""
        select id, type, scope, payload->>'repository' as repository from quota_events
        where not fanned_out order by id limit $1 for update skip locked""")
        .execute(Tuple.of(FAN_OUT_BATCH))
        .compose(rows -> {
          if (rows.size() == 0) {
            return Future.<Void>succeededFuture();
          }
          List<Tuple> deliveries = new ArrayList<>();
          List<Long> ids = new ArrayList<>();
          for (Row row : rows) {
            ids.add(row.getLong("id"));
            QuotaEventType type = QuotaEventType.valueOf(row.getString("type"));
            for (WebhookEndpoint endpoint : endpoints.values()) {
              if (endpoint.takes(type, row.getString("scope"), row.getString("repository"))) {
                deliveries.add(Tuple.of(row.getLong("id"), endpoint.name(), endpoint.url().toString()));
              }
            }
          }
          Future<?> inserted = deliveries.isEmpty()
              ? Future.succeededFuture()
              : connection.preparedQuery("insert into webhook_deliveries (event_id, endpoint, url) values ($1, $2, $3)"
                  + " on conflict (event_id, endpoint) do nothing").executeBatch(deliveries);
          return inserted.compose(v -> connection.preparedQuery("update quota_events set fanned_out = true where id = any($1::bigint[])")
              .execute(Tuple.of(ids.toArray(Long[]::new))))
              .<Void>mapEmpty();
        }));
  }

  /** A claimed delivery with its event: what one attempt sends. */
  record Claimed(long id, String endpoint, int attempt, String eventId, String type, String scope, Instant occurredAt,
      String payload) {}

  /** Claims the deliveries due (a lease: attempt counted, next attempt moved past the request) and sends each. */
  Future<Void> deliverDue() {
    long leaseMillis = 2 * config.requestTimeout().toMillis() + 1_000;
    return pool.preparedQuery("""
        update webhook_deliveries d
        set attempts = d.attempts + 1, next_attempt_at = now() + $2::bigint * interval '1 millisecond'
        from (select id from webhook_deliveries where state = 'pending' and next_attempt_at <= now()
              order by next_attempt_at, id limit $1 for update skip locked) due, quota_events e
        where d.id = due.id and e.id = d.event_id
        returning d.id, d.endpoint, d.attempts, e.event_uuid::text as event_uuid, e.type, e.scope, e.occurred_at,
          e.payload::text as payload""")
        .execute(Tuple.of(SEND_BATCH, leaseMillis))
        .compose(rows -> {
          List<Future<Void>> sent = new ArrayList<>();
          for (Row row : rows) {
            sent.add(send(new Claimed(row.getLong("id"), row.getString("endpoint"), row.getInteger("attempts"),
                row.getString("event_uuid"), row.getString("type"), row.getString("scope"),
                row.getOffsetDateTime("occurred_at").toInstant(), row.getString("payload"))));
          }
          return Future.join(sent).<Void>mapEmpty();
        });
  }

  /** The JSON body of an event: the same bytes on every attempt (jsonb keeps one key order). */
  static Buffer body(String eventId, String type, String scope, Instant occurredAt, String payload) {
    return new JsonObject().put("id", eventId).put("type", type).put("occurred_at", occurredAt.toString())
        .put("scope", scope).put("data", new JsonObject(payload)).toBuffer();
  }

  private Future<Void> send(Claimed delivery) {
    WebhookEndpoint endpoint = endpoints.get(delivery.endpoint());
    Instant started = Instant.now();
    if (endpoint == null) {
      return record(delivery, started, null, "endpoint " + delivery.endpoint() + " is no longer configured", 0, "failed", null);
    }
    Buffer body = body(delivery.eventId(), delivery.type(), delivery.scope(), delivery.occurredAt(), delivery.payload());
    long timestamp = started.getEpochSecond();
    RequestOptions options = new RequestOptions().setMethod(HttpMethod.POST).setAbsoluteURI(endpoint.url().toString())
        .setConnectTimeout(config.requestTimeout().toMillis()).setIdleTimeout(config.requestTimeout().toMillis())
        .putHeader("Content-Type", "application/json")
        .putHeader("User-Agent", "quota-proxy-webhooks")
        .putHeader("X-Quota-Event-Id", delivery.eventId())
        .putHeader("X-Quota-Event-Type", delivery.type())
        .putHeader("X-Quota-Delivery", Long.toString(delivery.id()))
        .putHeader("X-Quota-Attempt", Integer.toString(delivery.attempt()))
        .putHeader("X-Quota-Timestamp", Long.toString(timestamp))
        .putHeader("X-Quota-Signature", WebhookSignature.sign(endpoint.secret(), timestamp, body.getBytes()));
    return client.request(options)
        .compose(request -> request.send(body))
        .compose(response -> response.body().map(ignored -> response.statusCode()))
        .timeout(config.requestTimeout().toMillis() + 1_000, TimeUnit.MILLISECONDS)
        .transform(answer -> {
          long millis = java.time.Duration.between(started, Instant.now()).toMillis();
          if (answer.succeeded() && answer.result() / 100 == 2) {
            return record(delivery, started, answer.result(), null, millis, "delivered", null);
          }
          Integer status = answer.succeeded() ? answer.result() : null;
          String error = answer.succeeded()
              ? "HTTP " + status
              : String.valueOf(answer.cause().getMessage() == null
                  ? answer.cause().toString()
                  : answer.cause().getMessage());
          Instant next = schedule.nextAttempt(delivery.occurredAt(), Instant.now(), delivery.attempt());
          if (next == null) {
            LOG.warn("webhook {} gave up on event {} ({}) after {} attempts: {}", endpoint.name(), delivery.eventId(),
                delivery.type(), delivery.attempt(), error);
          } else {
            LOG.info("webhook {} attempt {} of event {} failed, next at {}: {}", endpoint.name(), delivery.attempt(),
                delivery.eventId(), next, error);
          }
          return record(delivery, started, status, error, millis, next == null ? "failed" : "pending", next);
        });
  }

  /**
   * Logs the attempt and moves the delivery on. Only the newest claim decides a pending delivery's fate (a lease
   * that ran out and was claimed again must not be overwritten by the late answer of the old one), but a success
   * always counts.
   */
  private Future<Void> record(Claimed delivery, Instant at, Integer status, String error, long millis, String state, Instant next) {
    return pool.withTransaction(connection -> connection.preparedQuery("""
        insert into webhook_attempts (delivery_id, attempt, at, status, error, duration_ms)
        values ($1, $2, $3, $4, $5, $6) on conflict do nothing""")
        .execute(Tuple.tuple().addLong(delivery.id()).addInteger(delivery.attempt()).addValue(utc(at)).addValue(status)
            .addValue(error).addLong(millis))
        .compose(v -> connection.preparedQuery("""
            update webhook_deliveries set state = $2, last_status = $3, last_error = $4,
              next_attempt_at = coalesce($5, next_attempt_at),
              finished_at = case when $2 = 'pending' then null else now() end
            where id = $1 and state = 'pending' and (attempts = $6 or $2 = 'delivered')""")
            .execute(Tuple.tuple().addLong(delivery.id()).addString(state).addValue(status).addValue(error)
                .addValue(next == null ? null : utc(next)).addInteger(delivery.attempt())))
        .<Void>mapEmpty())
        .recover(e -> logged("webhook attempt not recorded", e));
  }

  private static OffsetDateTime utc(Instant at) {
    return OffsetDateTime.ofInstant(at, ZoneOffset.UTC);
  }
}
