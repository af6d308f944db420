package dev.quotaproxy.ledger.reports;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.ledger.support.TestPostgres;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.sqlclient.Pool;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The report stream's backpressure, against a real Postgres cursor. */
class ReportsTest {
  private static TestPostgres postgres;
  private static Vertx vertx;
  private static Pool pool;

  @BeforeAll
  static void start() {
    postgres = TestPostgres.start();
    vertx = Vertx.vertx();
    pool = postgres.database().pool(vertx, 2);
    // 2 scopes x 2000 hours.
    postgres.sql("""
        insert into usage_hourly (scope, hour, storage_high_water, ingress_bytes, egress_bytes, pushes, pulls)
        select 's' || n, timestamptz '2026-01-01' + h * interval '1 hour', 0, 1, 0, 0, 0
        from generate_series(0, 1999) as h, generate_series(1, 2) as n""");
  }

  @AfterAll
  static void stop() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
    postgres.close();
  }

  @Test
  void aFullSinkStopsTheRowsUntilItDrains() throws Exception {
    AtomicInteger delivered = new AtomicInteger();
    Promise<Runnable> stopped = Promise.promise();
    ReportSink sink = new ReportSink() {
      @Override
      public void row(ReportRow row) {
        delivered.incrementAndGet();
      }

      @Override
      public boolean full() {
        return delivered.get() == 100;
      }

      @Override
      public void whenDrained(Runnable resume) {
        stopped.complete(resume);
      }
    };
    Period period = new Period(Granularity.HOUR, Instant.parse("2026-01-01T00:00:00Z"), Instant.parse("2026-04-01T00:00:00Z"));
    var report = new Reports(pool).stream(new ReportQuery(By.SCOPE, period, Optional.empty(), Map.of()), sink);

    Runnable resume = stopped.future().await(20, TimeUnit.SECONDS);
    assertThat(delivered.get()).isEqualTo(100);
    // While the sink is full, nothing more comes, however long it takes the reader.
    vertx.timer(300).await(5, TimeUnit.SECONDS);
    assertThat(delivered.get()).isEqualTo(100);
    assertThat(report.isComplete()).isFalse();

    vertx.runOnContext(v -> resume.run());
    ReportTotals totals = report.await(20, TimeUnit.SECONDS);
    assertThat(delivered.get()).isEqualTo(4000);
    assertThat(totals.ingress()).isEqualTo(4000);
  }

  @Test
  void aReaderThatGoesAwayEndsTheReportAndFreesItsConnection() throws Exception {
    Promise<Runnable> gone = Promise.promise();
    ReportSink sink = new ReportSink() {
      @Override
      public void row(ReportRow row) {}

      @Override
      public boolean full() {
        return true;
      }

      @Override
      public void whenDrained(Runnable resume) {}

      @Override
      public void onGone(Runnable cancel) {
        gone.complete(cancel);
      }
    };
    Period period = new Period(Granularity.HOUR, Instant.parse("2026-01-01T00:00:00Z"), Instant.parse("2026-04-01T00:00:00Z"));
    var report = new Reports(pool).stream(new ReportQuery(By.SCOPE, period, Optional.empty(), Map.of()), sink);
    Runnable cancel = gone.future().await(20, TimeUnit.SECONDS);
    vertx.runOnContext(v -> cancel.run());
    assertThat(report.otherwiseEmpty().await(20, TimeUnit.SECONDS)).isNull();
    assertThat(report.failed()).isTrue();
    // Both connections of the pool are free again: two queries at once go through.
    var both = io.vertx.core.Future.all(pool.query("select 1").execute(), pool.query("select 2").execute());
    assertThat(both.await(10, TimeUnit.SECONDS).succeeded()).isTrue();
  }
}
