package dev.quotaproxy.ledger.reports;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ReportAccumulatorTest {
  private static final Instant H1 = Instant.parse("2026-11-24T01:00:00Z");
  private static final Instant H2 = Instant.parse("2026-11-24T02:00:00Z");
  private static final Instant H3 = Instant.parse("2026-11-24T03:00:00Z");
  private static final Instant H4 = Instant.parse("2026-11-24T04:00:00Z");

  private final List<ReportRow> rows = new ArrayList<>();

  @Test
  void storageCarriesOverBucketsWithoutAChangeStartingFromTheSeed() {
    var report = new ReportAccumulator(By.SCOPE, rows::add);
    report.add("acme", "acme", null, 500, null, 0, 0, 0, 0, 0, null, 0, null);
    report.add("acme", "acme", H1, 0, null, 10, 20, 1, 2, 0, null, 0, null);
    report.add("acme", "acme", H2, 800, null, 300, 0, 1, 0, 0, null, 0, null);
    report.add("acme", "acme", H3, 0, null, 0, 40, 0, 1, 0, null, 0, null);
    ReportTotals totals = report.finish();

    assertThat(rows).containsExactly(
        new ReportRow(H1, "acme", 500, 10, 20, 1, 2),
        new ReportRow(H2, "acme", 800, 300, 0, 1, 0),
        new ReportRow(H3, "acme", 800, 0, 40, 0, 1));
    assertThat(totals).isEqualTo(new ReportTotals(800, 310, 60, 2, 3, 3, 1));
  }

  @Test
  void eachCountCarriesOverBucketsWithoutAChangeFromItsOwnLastFigure() {
    var report = new ReportAccumulator(By.SCOPE, rows::add);
    // Before the period: repositories last changed to 4, manifests to 9 (each in its own earlier bucket).
    report.add("acme", "acme", null, 500, null, 0, 0, 0, 0, 4, null, 9, null);
    report.add("acme", "acme", H1, 0, null, 10, 0, 1, 0, 0, null, 0, null);
    report.add("acme", "acme", H2, 0, null, 0, 0, 0, 0, 5, null, 0, null);
    report.add("acme", "acme", H3, 0, null, 0, 0, 0, 0, 0, null, 11, null);
    report.finish();

    assertThat(rows).containsExactly(
        new ReportRow(H1, "acme", 500, 10, 0, 1, 0, 4, 9),
        new ReportRow(H2, "acme", 500, 0, 0, 0, 0, 5, 9),
        new ReportRow(H3, "acme", 500, 0, 0, 0, 0, 5, 11));
  }

  @Test
  void aGroupSumsItsPartsCountsAndUserRowsHaveNone() {
    var report = new ReportAccumulator(By.GROUP, rows::add);
    report.add("uni", "acme", null, 0, null, 0, 0, 0, 0, 2, null, 3, null);
    report.add("uni", "globex", H1, 10, null, 0, 0, 0, 0, 1, null, 1, null);
    report.add("uni", "acme", H2, 0, null, 0, 0, 0, 0, 1, null, 0, null);
    report.finish();
    var users = new ReportAccumulator(By.USER, rows::add);
    users.add("alice", "alice", H1, 0, null, 5, 0, 1, 0, 0, null, 0, null);
    users.finish();

    assertThat(rows).containsExactly(
        new ReportRow(H1, "uni", 10, 0, 0, 0, 0, 3, 4),
        new ReportRow(H2, "uni", 10, 0, 0, 0, 0, 2, 4),
        new ReportRow(H1, "alice", 0, 5, 0, 1, 0, 0, 0));
  }

  @Test
  void totalsCountOnlyKeysNotUnderAnotherKeyOfTheReport() {
    var report = new ReportAccumulator(By.SCOPE, rows::add);
    report.add("acme", "acme", H1, 300, null, 300, 0, 1, 0, 0, null, 0, null);
    report.add("acme/app", "acme/app", H1, 300, null, 300, 0, 1, 0, 0, null, 0, null);
    report.add("acme/app-x", "acme/app-x", H2, 0, null, 0, 5, 0, 1, 0, null, 0, null); // not under acme/app, but under acme
    report.add("globex", "globex", H2, 100, null, 100, 7, 1, 1, 0, null, 0, null);
    ReportTotals totals = report.finish();

    assertThat(rows).hasSize(4);
    assertThat(totals).isEqualTo(new ReportTotals(400, 400, 7, 2, 1, 4, 4));
  }

  @Test
  void aGroupSumsItsPartsEachCarriedOverSeparately() {
    var report = new ReportAccumulator(By.GROUP, rows::add);
    report.add("uni", "acme", null, 100, null, 0, 0, 0, 0, 0, null, 0, null);
    report.add("uni", "globex", H1, 50, null, 50, 0, 1, 0, 0, null, 0, null);
    report.add("uni", "acme", H2, 0, null, 0, 30, 0, 1, 0, null, 0, null);
    report.add("uni", "globex", H2, 0, null, 0, 0, 0, 0, 0, null, 0, null);
    report.add("uni", "acme", H3, 250, null, 150, 0, 1, 0, 0, null, 0, null);
    report.add("wide", "acme", H3, 250, null, 150, 0, 1, 0, 0, null, 0, null);
    ReportTotals totals = report.finish();

    assertThat(rows).containsExactly(
        new ReportRow(H1, "uni", 150, 50, 0, 1, 0),
        new ReportRow(H2, "uni", 150, 0, 30, 0, 1),
        new ReportRow(H3, "uni", 300, 150, 0, 1, 0),
        new ReportRow(H3, "wide", 250, 150, 0, 1, 0));
    // Groups may share scopes; each group counts in the totals (a scope in two groups counts in both).
    assertThat(totals).isEqualTo(new ReportTotals(550, 350, 30, 3, 1, 4, 2));
  }

  @Test
  void aKeyWithOnlyASeedHasNoRowAndUserReportsHaveNoStorage() {
    var report = new ReportAccumulator(By.USER, rows::add);
    report.add("alice", "alice", null, 900, null, 0, 0, 0, 0, 0, null, 0, null);
    report.add("bob", "bob", H1, 0, null, 5, 6, 1, 1, 0, null, 0, null);
    ReportTotals totals = report.finish();

    assertThat(rows).containsExactly(new ReportRow(H1, "bob", 0, 5, 6, 1, 1));
    assertThat(totals).isEqualTo(new ReportTotals(0, 5, 6, 1, 1, 1, 1));
  }

  @Test
  void afterADeleteTheBucketsWithoutAChangeShowTheLevelItClosedAtNotItsHigh() {
    var report = new ReportAccumulator(By.SCOPE, rows::add);
    // H1: 100 stored, then 60 deleted (high 100, closed at 40); H2, H3: traffic only.
    report.add("acme", "acme", H1, 100, 40L, 0, 0, 0, 0, 0, null, 0, null);
    report.add("acme", "acme", H2, 0, null, 0, 5, 0, 1, 0, null, 0, null);
    report.add("acme", "acme", H3, 0, null, 0, 7, 0, 1, 0, null, 0, null);
    ReportTotals totals = report.finish();

    assertThat(rows).containsExactly(
        new ReportRow(H1, "acme", 100, 0, 0, 0, 0).endingAt(40, 0, 0),
        new ReportRow(H2, "acme", 40, 0, 5, 0, 1),
        new ReportRow(H3, "acme", 40, 0, 7, 0, 1));
    assertThat(totals.storagePeak()).isEqualTo(100);
  }

  @Test
  void aSeedIsTheLevelTheLastChangeBeforeThePeriodClosedAt() {
    var report = new ReportAccumulator(By.SCOPE, rows::add);
    // As the query gives seeds: the close alone (it reached 150 in that bucket, and was left at 100).
    report.add("acme", "acme", null, 0, 100L, 0, 0, 0, 0, 0, null, 0, null);
    report.add("acme", "acme", null, 0, null, 0, 0, 0, 0, 0, 2L, 0, null);
    report.add("acme", "acme", null, 0, null, 0, 0, 0, 0, 0, null, 0, 4L);
    report.add("acme", "acme", H1, 0, null, 0, 5, 0, 1, 0, null, 0, null);
    report.finish();

    assertThat(rows).containsExactly(new ReportRow(H1, "acme", 100, 0, 5, 0, 1, 2, 4));
  }

  @Test
  void eachCountAfterItsChangeIsCarriedAtItsCloseOnItsOwn() {
    var report = new ReportAccumulator(By.SCOPE, rows::add);
    report.add("acme", "acme", null, 0, 500L, 0, 0, 0, 0, 0, 2L, 0, 5L);
    // H1: a repository pushed then another emptied (3 at most, 2 left); H2: manifests 5 -> 7 -> 6.
    report.add("acme", "acme", H1, 0, null, 0, 0, 1, 0, 3, 2L, 0, null);
    report.add("acme", "acme", H2, 0, null, 0, 0, 1, 0, 0, null, 7, 6L);
    report.add("acme", "acme", H3, 0, null, 0, 9, 0, 1, 0, null, 0, null);
    report.finish();

    assertThat(rows).containsExactly(
        new ReportRow(H1, "acme", 500, 0, 0, 1, 0, 3, 5).endingAt(500, 2, 5),
        new ReportRow(H2, "acme", 500, 0, 0, 1, 0, 2, 7).endingAt(500, 2, 6),
        new ReportRow(H3, "acme", 500, 0, 9, 0, 1, 2, 6));
  }

  @Test
  void aGroupSumsEachPartsCloseAndALevelFallenToZeroCarriesZero() {
    var report = new ReportAccumulator(By.GROUP, rows::add);
    report.add("uni", "acme", H1, 100, 40L, 0, 0, 0, 0, 0, null, 0, null);
    report.add("uni", "globex", H1, 50, 50L, 0, 0, 0, 0, 0, null, 0, null);
    report.add("uni", "globex", H2, 0, null, 0, 3, 0, 1, 0, null, 0, null);
    // globex emptied: 50 at most in H3, 0 after.
    report.add("uni", "acme", H3, 70, 70L, 0, 0, 0, 0, 0, null, 0, null);
    report.add("uni", "globex", H3, 50, 0L, 0, 0, 0, 0, 0, null, 0, null);
    report.add("uni", "acme", H4, 0, null, 0, 1, 0, 1, 0, null, 0, null);
    ReportTotals totals = report.finish();

    assertThat(rows).containsExactly(
        new ReportRow(H1, "uni", 150, 0, 0, 0, 0).endingAt(90, 0, 0),
        new ReportRow(H2, "uni", 90, 0, 3, 0, 1),
        new ReportRow(H3, "uni", 120, 0, 0, 0, 0).endingAt(70, 0, 0),
        new ReportRow(H4, "uni", 70, 0, 1, 0, 1));
    assertThat(totals.storagePeak()).isEqualTo(150);
  }

  @Test
  void aRowRecordedBeforeClosesWereCarriesItsHighWater() {
    var report = new ReportAccumulator(By.SCOPE, rows::add);
    report.add("acme", "acme", H1, 100, null, 0, 0, 0, 0, 3, null, 4, null);
    report.add("acme", "acme", H2, 0, null, 0, 5, 0, 1, 0, null, 0, null);
    report.finish();

    assertThat(rows).containsExactly(
        new ReportRow(H1, "acme", 100, 0, 0, 0, 0, 3, 4),
        new ReportRow(H2, "acme", 100, 0, 5, 0, 1, 3, 4));
  }
}
