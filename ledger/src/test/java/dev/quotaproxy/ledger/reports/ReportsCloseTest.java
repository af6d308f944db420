package dev.quotaproxy.ledger.reports;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.ledger.chargeback.Item;
import dev.quotaproxy.ledger.chargeback.Metering;
import dev.quotaproxy.ledger.support.LedgerDatabaseExtension;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Reports and the chargeback's hourly rows after a delete, over rows written into the ledger's tables
 * with their closes:
 *
 * <pre>
 * acme   04-01 10:00  reached 150, left at 100; 3 repositories, left at 2; 5 manifests, left at 4
 *        04-02 01:00  traffic only
 *        04-02 02:00  100, a delete: left at 40; repositories 2 -> 1, manifests 4 -> 3
 *        04-02 03:00, 04:00  traffic only
 *        04-02 05:00  60, left at 55
 *        04-03 05:00  traffic only
 *        04-04        rolled up: reached 80, left at 20; and at 10:00 (after the roll-up) 30, left at 30
 *        04-05 03:00  traffic only
 * globex 04-02 03:00  50 pushed and deleted: left at 0
 * </pre>
 */
class ReportsCloseTest {
  @RegisterExtension static final LedgerDatabaseExtension db = new LedgerDatabaseExtension(2);

  @BeforeEach
  void rows() {
    hourly("acme", "2026-04-01T10:00:00Z", 150, 100L, 0, 3, 2L, 5, 4L);
    hourly("acme", "2026-04-02T01:00:00Z", 0, null, 1, 0, null, 0, null);
    hourly("acme", "2026-04-02T02:00:00Z", 100, 40L, 0, 2, 1L, 4, 3L);
    hourly("acme", "2026-04-02T03:00:00Z", 0, null, 5, 0, null, 0, null);
    hourly("acme", "2026-04-02T04:00:00Z", 0, null, 7, 0, null, 0, null);
    hourly("acme", "2026-04-02T05:00:00Z", 60, 55L, 0, 0, null, 0, null);
    hourly("acme", "2026-04-03T05:00:00Z", 0, null, 1, 0, null, 0, null);
    db.postgres().sql("""
        insert into usage_daily (scope, day, storage_high_water, storage_close, egress_bytes)
        values ('acme', date '2026-04-04', 80, 20, 2)""");
    hourly("acme", "2026-04-04T10:00:00Z", 30, 30L, 0, 0, null, 0, null);
    hourly("acme", "2026-04-05T03:00:00Z", 0, null, 1, 0, null, 0, null);
    hourly("globex", "2026-04-02T03:00:00Z", 50, 0L, 0, 0, null, 0, null);
  }

  private static void hourly(String scope, String hour, long storage, Long storageClose, long egress, long repositories,
      Long repositoriesClose, long manifests, Long manifestsClose) {
    db.postgres().sql("""
        insert into usage_hourly (scope, hour, storage_high_water, storage_close, egress_bytes, repositories_high_water,
                                  repositories_close, manifests_high_water, manifests_close)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9)""", scope, Instant.parse(hour).atOffset(java.time.ZoneOffset.UTC), storage,
        storageClose, egress, repositories, repositoriesClose, manifests, manifestsClose);
  }

  private static List<ReportRow> report(By by, Granularity granularity, String from, String to) throws Exception {
    List<ReportRow> rows = new ArrayList<>();
    ReportSink sink = new ReportSink() {
      @Override
      public void row(ReportRow row) {
        rows.add(row);
      }

      @Override
      public boolean full() {
        return false;
      }

      @Override
      public void whenDrained(Runnable resume) {}
    };
    new Reports(db.pool()).stream(query(by, granularity, from, to), sink).await(20, TimeUnit.SECONDS);
    return rows;
  }

  private static ReportQuery query(By by, Granularity granularity, String from, String to) {
    Period period = new Period(granularity, Instant.parse(from), Instant.parse(to));
    return by == By.GROUP
        ? new ReportQuery(By.GROUP, period, Optional.empty(), Map.of("uni", ScopeSet.of(List.of("acme", "globex"))))
        : new ReportQuery(by, period, Optional.of(ScopeSet.of(List.of("acme"))), Map.of());
  }

  private static Instant at(String instant) {
    return Instant.parse(instant);
  }

  @Test
  void byHourTheDeleteHourShowsItsHighAndTheHoursAfterWhatWasLeft() throws Exception {
    assertThat(report(By.SCOPE, Granularity.HOUR, "2026-04-02T00:00:00Z", "2026-04-02T06:00:00Z")).containsExactly(
        new ReportRow(at("2026-04-02T01:00:00Z"), "acme", 100, 0, 1, 0, 0, 2, 4),
        new ReportRow(at("2026-04-02T02:00:00Z"), "acme", 100, 0, 0, 0, 0, 2, 4).endingAt(40, 1, 3),
        new ReportRow(at("2026-04-02T03:00:00Z"), "acme", 40, 0, 5, 0, 0, 1, 3),
        new ReportRow(at("2026-04-02T04:00:00Z"), "acme", 40, 0, 7, 0, 0, 1, 3),
        new ReportRow(at("2026-04-02T05:00:00Z"), "acme", 60, 0, 0, 0, 0, 1, 3).endingAt(55, 1, 3));
  }

  /** A day closes where its last change closed: the 2nd at 55 (not 40), the 4th at 30 (its hour after the roll-up). */
  @Test
  void byDayEachDayClosesWhereItsLatestChangeLeftIt() throws Exception {
    assertThat(report(By.SCOPE, Granularity.DAY, "2026-04-02T00:00:00Z", "2026-04-06T00:00:00Z")).containsExactly(
        new ReportRow(at("2026-04-02T00:00:00Z"), "acme", 100, 0, 13, 0, 0, 2, 4).endingAt(55, 1, 3),
        new ReportRow(at("2026-04-03T00:00:00Z"), "acme", 55, 0, 1, 0, 0, 1, 3),
        new ReportRow(at("2026-04-04T00:00:00Z"), "acme", 80, 0, 2, 0, 0, 1, 3).endingAt(30, 1, 3),
        new ReportRow(at("2026-04-05T00:00:00Z"), "acme", 30, 0, 1, 0, 0, 1, 3));
  }

  @Test
  void aSeedIsTheLastCloseBeforeThePeriod() throws Exception {
    assertThat(report(By.SCOPE, Granularity.HOUR, "2026-04-03T00:00:00Z", "2026-04-03T06:00:00Z"))
        .containsExactly(new ReportRow(at("2026-04-03T05:00:00Z"), "acme", 55, 0, 1, 0, 0, 1, 3));
    assertThat(report(By.SCOPE, Granularity.DAY, "2026-04-05T00:00:00Z", "2026-04-06T00:00:00Z"))
        .containsExactly(new ReportRow(at("2026-04-05T00:00:00Z"), "acme", 30, 0, 1, 0, 0, 1, 3));
  }

  @Test
  void aGroupSumsItsScopesEachCarriedAtItsClose() throws Exception {
    assertThat(report(By.GROUP, Granularity.HOUR, "2026-04-02T00:00:00Z", "2026-04-02T06:00:00Z")).extracting(ReportRow::storage)
        .containsExactly(100L, 100L, 90L, 40L, 60L);
  }

  /**
   * The 2nd: 100 for hours 0-1 (seed), 100 in hour 2 (its high), 40 for hours 3-4, 60 in hour 5, 55 for
   * hours 6-23: 200 + 100 + 80 + 60 + 990 = 1,430 byte-hours. The 4th and 5th: the rolled-up day at 80
   * until its hour after the roll-up, 10:00, then 30: 800 + 30 x 14 + 30 x 24 = 1,940.
   */
  @Test
  void theChargebacksHourlyRowsCountTheHoursAfterADeleteAtTheLevelLeft() throws Exception {
    assertThat(byteHours("2026-04-02T00:00:00Z", "2026-04-03T00:00:00Z")).isEqualByComparingTo("1430");
    assertThat(byteHours("2026-04-04T00:00:00Z", "2026-04-06T00:00:00Z")).isEqualByComparingTo("1940");
  }

  private static BigDecimal byteHours(String from, String to) throws Exception {
    ReportQuery query = query(By.SCOPE, Granularity.HOUR, from, to);
    Metering metering = new Metering(List.of(query.period().from()), query.period().to(), Map.of());
    new Reports(db.pool()).hourlyRows(query, metering::add).await(20, TimeUnit.SECONDS);
    return metering.finish().get("acme").measured()[0][Item.STORAGE.ordinal()];
  }
}
