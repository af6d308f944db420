package dev.quotaproxy.ledger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.quotaproxy.ledger.Retention.RollUp;
import dev.quotaproxy.ledger.support.LedgerDatabaseExtension;
import io.vertx.sqlclient.Row;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class RetentionTest {
  // 30 days before is 2026-03-01T12:34:56Z: hours before 2026-03-01T00:00Z roll up.
  private static final Instant NOW = Instant.parse("2026-03-31T12:34:56Z");
  private static final int DAYS = 30;
  private static final LocalDate FEB_27 = LocalDate.parse("2026-02-27");
  private static final LocalDate FEB_28 = LocalDate.parse("2026-02-28");

  @RegisterExtension static final LedgerDatabaseExtension db = new LedgerDatabaseExtension(2);

  private Retention retention;

  @BeforeEach
  void emptyTables() {
    retention = new Retention(db.pool());
  }

  @Test
  void hoursBeforeTheRetentionBecomeDaysWithCountersSummedAndTheHighestStorage() {
    usageHour("acme", "2026-02-27T05:00:00Z", 50, 1, 1, 1, 1);
    usageHour("acme", "2026-02-28T22:00:00Z", 100, 1, 2, 1, 0);
    usageHour("acme", "2026-02-28T23:00:00Z", 300, 10, 20, 0, 3);
    usageHour("acme/app", "2026-02-28T23:00:00Z", 70, 5, 5, 1, 1);
    // A day rolled up before (late hours arrived since): added to, high water the greater.
    db.postgres().sql("insert into usage_daily values ('acme', $1, 200, 1000, 1000, 10, 10)", FEB_28);
    userHour("alice", "acme/app", "2026-02-28T22:00:00Z", 1, 2, 1, 0);
    userHour("alice", "acme/app", "2026-02-28T23:00:00Z", 10, 20, 0, 3);
    userHour("bob", "acme/app", "2026-02-27T05:00:00Z", 7, 7, 7, 7);

    RollUp rollUp = rollUp();

    assertThat(rollUp).isEqualTo(new RollUp(4, 3, 3, 2, 0, 0, 0, 0));
    assertThat(
        rows("select scope, day, storage_high_water, ingress_bytes, egress_bytes, pushes, pulls from usage_daily order by scope, day"))
        .containsExactly(
            List.of("acme", FEB_27, 50L, 1L, 1L, 1L, 1L),
            List.of("acme", FEB_28, 300L, 1011L, 1022L, 11L, 13L),
            List.of("acme/app", FEB_28, 70L, 5L, 5L, 1L, 1L));
    assertThat(
        rows("select user_name, repository, day, ingress_bytes, egress_bytes, pushes, pulls from user_traffic_daily order by user_name"))
        .containsExactly(
            List.of("alice", "acme/app", FEB_28, 11L, 22L, 1L, 3L),
            List.of("bob", "acme/app", FEB_27, 7L, 7L, 7L, 7L));
    assertThat(rows("select count(*) from usage_hourly")).containsExactly(List.of(0L));
    assertThat(rows("select count(*) from user_traffic_hourly")).containsExactly(List.of(0L));
  }

  /** A day closes each figure where its last hour with a change of that figure did; a day rolled up before takes later hours'. */
  @Test
  void aDayClosesEachFigureWhereItsLastHourWithAChangeOfItDid() {
    db.postgres().sql("""
        insert into usage_hourly (scope, hour, storage_high_water, storage_close, repositories_high_water, repositories_close,
                                  manifests_high_water, manifests_close, ingress_bytes, egress_bytes, pushes, pulls)
        values ('acme', '2026-02-27T05:00:00Z', 100, 100, 2, 2, 0, null, 0, 0, 0, 0),
               ('acme', '2026-02-27T06:00:00Z', 100, 40, 0, null, 5, 5, 0, 0, 0, 0),
               ('acme', '2026-02-27T07:00:00Z', 0, null, 2, 1, 0, null, 9, 0, 0, 0),
               ('acme', '2026-02-28T22:00:00Z', 0, null, 0, null, 0, null, 1, 0, 0, 0)""");
    db.postgres().sql("""
        insert into usage_daily (scope, day, storage_high_water, storage_close, repositories_high_water, repositories_close)
        values ('acme', $1, 70, 60, 3, 3)""", FEB_28);

    rollUp();

    List<List<Object>> days = new ArrayList<>();
    db.postgres().sql("""
        select day, storage_high_water, storage_close, repositories_close, manifests_close from usage_daily order by day""")
        .forEach(row -> days.add(java.util.Arrays.asList(row.getLocalDate(0), row.getLong(1), row.getLong(2), row.getLong(3),
            row.getLong(4))));
    assertThat(days).containsExactly(java.util.Arrays.asList(FEB_27, 100L, 40L, 1L, 5L),
        java.util.Arrays.asList(FEB_28, 70L, 60L, 3L, null));
  }

  /** Redis keeps a free an hour (freed_since in common.lua); the ledger keeps it as long, for a restore. */
  @Test
  void freesOlderThanAnHourArePruned() {
    db.postgres().sql("""
        insert into recent_frees (repository, digest, freed_at)
        values ('acme/app', 'sha256:old', $1), ('acme/app', 'sha256:new', $2)""",
        NOW.minus(Duration.ofMinutes(61)).atOffset(java.time.ZoneOffset.UTC),
        NOW.minus(Duration.ofMinutes(59)).atOffset(java.time.ZoneOffset.UTC));

    assertThat(rollUp().freesPruned()).isEqualTo(1);
    assertThat(rows("select digest from recent_frees")).containsExactly(List.of("sha256:new"));
  }

  @Test
  void theCountsHighWaterRollsUpToTheHighestOfTheDayAndOfADayRolledUpBefore() {
    countsHour("acme", "2026-02-27T05:00:00Z", 2, 7);
    countsHour("acme", "2026-02-27T06:00:00Z", 3, 4);
    countsHour("acme", "2026-02-27T07:00:00Z", 0, 0);
    countsHour("acme", "2026-02-28T22:00:00Z", 1, 9);
    db.postgres().sql("insert into usage_daily (scope, day, repositories_high_water, manifests_high_water) values ('acme', $1, 5, 2)",
        FEB_28);

    rollUp();

    assertThat(rows("select day, repositories_high_water, manifests_high_water from usage_daily order by day"))
        .containsExactly(List.of(FEB_27, 3L, 7L), List.of(FEB_28, 5L, 9L));
  }

  @Test
  void hoursWithinTheRetentionStayHourly() {
    usageHour("acme", "2026-02-28T23:00:00Z", 1, 1, 1, 1, 1);
    usageHour("acme", "2026-03-01T00:00:00Z", 2, 2, 2, 2, 2);
    usageHour("acme", "2026-03-31T12:00:00Z", 3, 3, 3, 3, 3);
    userHour("alice", "acme/app", "2026-02-28T23:00:00Z", 1, 1, 1, 1);
    userHour("alice", "acme/app", "2026-03-01T00:00:00Z", 2, 2, 2, 2);

    assertThat(rollUp()).isEqualTo(new RollUp(1, 1, 1, 1, 0, 0, 0, 0));

    assertThat(rows("select hour from usage_hourly order by hour")).containsExactly(
        List.of(Instant.parse("2026-03-01T00:00:00Z")), List.of(Instant.parse("2026-03-31T12:00:00Z")));
    assertThat(rows("select hour from user_traffic_hourly")).containsExactly(List.of(Instant.parse("2026-03-01T00:00:00Z")));
    assertThat(rows("select day from usage_daily")).containsExactly(List.of(FEB_28));
  }

  @Test
  void aRowIsRolledUpExactlyOnceHoweverOftenRetentionRuns() {
    usageHour("acme", "2026-02-28T22:00:00Z", 100, 1, 2, 1, 0);
    userHour("alice", "acme/app", "2026-02-28T22:00:00Z", 1, 2, 1, 0);

    rollUp();
    assertThat(rollUp()).isEqualTo(new RollUp(0, 0, 0, 0, 0, 0, 0, 0));
    assertThat(rollUp()).isEqualTo(new RollUp(0, 0, 0, 0, 0, 0, 0, 0));

    assertThat(rows("select storage_high_water, ingress_bytes, egress_bytes, pushes from usage_daily"))
        .containsExactly(List.of(100L, 1L, 2L, 1L));
    assertThat(rows("select ingress_bytes, egress_bytes, pushes from user_traffic_daily"))
        .containsExactly(List.of(1L, 2L, 1L));

    // A late event's hour, after the day was rolled up, is added to it at the next run, once.
    usageHour("acme", "2026-02-28T23:00:00Z", 50, 10, 0, 0, 0);
    assertThat(rollUp()).isEqualTo(new RollUp(1, 1, 0, 0, 0, 0, 0, 0));
    rollUp();
    assertThat(rows("select storage_high_water, ingress_bytes from usage_daily")).containsExactly(List.of(100L, 11L));
  }

  @Test
  void aRunThatFailsPartWayMovesNothing() {
    usageHour("acme", "2026-02-28T22:00:00Z", 100, 1, 2, 1, 0);
    userHour("alice", "acme/app", "2026-02-28T22:00:00Z", 1, 2, 1, 0);
    // The second roll-up of the run fails, after the first has moved its rows.
    db.postgres().sql("""
        create function refuse() returns trigger language plpgsql as $$ begin raise exception 'refused'; end $$""");
    db.postgres().sql("create trigger refuse before insert on user_traffic_daily for each row execute function refuse()");
    try {
      assertThatThrownBy(this::rollUp).hasMessageContaining("refused");
    } finally {
      db.postgres().sql("drop trigger refuse on user_traffic_daily");
      db.postgres().sql("drop function refuse()");
    }

    assertThat(rows("select count(*) from usage_hourly")).containsExactly(List.of(1L));
    assertThat(rows("select count(*) from usage_daily")).containsExactly(List.of(0L));

    assertThat(rollUp()).isEqualTo(new RollUp(1, 1, 1, 1, 0, 0, 0, 0));
    assertThat(rows("select ingress_bytes from usage_daily")).containsExactly(List.of(1L));
  }

  @Test
  void eventIdsAppliedBeforeTheRetentionAreForgotten() {
    appliedEvent("acme/1-0", NOW.minus(Duration.ofDays(31)));
    appliedEvent("acme/2-0", NOW.minus(Duration.ofDays(DAYS)).minusSeconds(1));
    appliedEvent("acme/3-0", NOW.minus(Duration.ofDays(29)));

    assertThat(rollUp().eventIdsPruned()).isEqualTo(2);

    assertThat(rows("select event_id from ledger_events")).containsExactly(List.of("acme/3-0"));
  }

  @Test
  void quotaEventsOlderThanTheRetentionGoWithTheirDeliveriesUnlessOneIsPending() {
    long old = quotaEvent(NOW.minus(Duration.ofDays(31)));
    long oldPending = quotaEvent(NOW.minus(Duration.ofDays(31)));
    long recent = quotaEvent(NOW.minus(Duration.ofDays(29)));
    delivery(old, "delivered");
    delivery(oldPending, "pending");
    delivery(recent, "failed");

    assertThat(rollUp().quotaEventsPruned()).isEqualTo(1);

    assertThat(rows("select id from quota_events order by id")).containsExactly(List.of(oldPending), List.of(recent));
    assertThat(rows("select event_id from webhook_deliveries order by event_id")).containsExactly(List.of(oldPending), List.of(recent));
    assertThat(rows("select count(*) from webhook_attempts")).containsExactly(List.of(2L));
  }

  @Test
  void refusalsRecordedBeforeTheRetentionGo() {
    rejection("acme/1-0", NOW.minus(Duration.ofDays(31)));
    rejection("acme/2-0", NOW.minus(Duration.ofDays(DAYS)).minusSeconds(1));
    rejection("acme/3-0", NOW.minus(Duration.ofDays(29)));

    assertThat(rollUp().rejectionsPruned()).isEqualTo(2);

    assertThat(rows("select event_id from rejections")).containsExactly(List.of("acme/3-0"));
  }

  private static void rejection(String id, Instant at) {
    db.postgres()
        .sql("insert into rejections (event_id, occurred_at, repository, scope, user_name, resource, requested, usage, limit_bytes,"
            + " reason) values ($1, $2, 'acme/app', 'acme', 'alice', 'storage_bytes', 5, 10, 12, 'storage_limit')", id, LedgerSql.utc(at));
  }

  private static long quotaEvent(Instant created) {
    return db.postgres().sql("insert into quota_events (type, scope, occurred_at, payload, dedupe_key, fanned_out, created_at)"
        + " values ('QUOTA_EXCEEDED', 'acme', $1, '{}', $2, true, $1) returning id", LedgerSql.utc(created),
        "refusal:" + created + ":" + Math.random()).iterator().next().getLong(0);
  }

  private static void delivery(long event, String state) {
    long id = db.postgres()
        .sql("insert into webhook_deliveries (event_id, endpoint, url, state, attempts) values ($1, 'ops', 'http://x/', $2, 1)"
            + " returning id", event, state)
        .iterator().next().getLong(0);
    db.postgres().sql("insert into webhook_attempts (delivery_id, attempt, at, status, duration_ms) values ($1, 1, now(), 503, 5)", id);
  }

  @Test
  void aRetentionOfLessThanADayIsRefused() {
    assertThat(retention.rollUp(NOW, 0).failed()).isTrue();
  }

  private RollUp rollUp() {
    try {
      return retention.rollUp(NOW, DAYS).await(20, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError(e);
    }
  }

  private static void usageHour(String scope, String hour, long highWater, long ingress, long egress, long pushes, long pulls) {
    db.postgres().sql("insert into usage_hourly values ($1, $2, $3, $4, $5, $6, $7)",
        scope, LedgerSql.utc(Instant.parse(hour)), highWater, ingress, egress, pushes, pulls);
  }

  private static void countsHour(String scope, String hour, long repositories, long manifests) {
    db.postgres().sql("insert into usage_hourly (scope, hour, repositories_high_water, manifests_high_water) values ($1, $2, $3, $4)",
        scope, LedgerSql.utc(Instant.parse(hour)), repositories, manifests);
  }

  private static void userHour(String user, String repository, String hour, long ingress, long egress, long pushes, long pulls) {
    db.postgres().sql("insert into user_traffic_hourly values ($1, $2, $3, $4, $5, $6, $7)",
        user, repository, LedgerSql.utc(Instant.parse(hour)), ingress, egress, pushes, pulls);
  }

  private static void appliedEvent(String id, Instant appliedAt) {
    db.postgres().sql("insert into ledger_events values ($1, 'acme', '0-0', 'traffic', $2, $2)", id, LedgerSql.utc(appliedAt));
  }

  private static List<List<Object>> rows(String sql) {
    List<List<Object>> rows = new ArrayList<>();
    for (Row row : db.postgres().sql(sql)) {
      List<Object> values = new ArrayList<>();
      for (int i = 0; i < row.size(); i++) {
        Object value = row.getValue(i);
        values.add(value instanceof java.time.OffsetDateTime time ? time.toInstant() : value);
      }
      rows.add(values);
    }
    return rows;
  }
}
