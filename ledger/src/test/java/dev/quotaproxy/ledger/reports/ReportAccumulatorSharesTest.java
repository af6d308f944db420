package dev.quotaproxy.ledger.reports;

import static org.assertj.core.api.Assertions.assertThat;

import java.math.BigDecimal;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A report by group takes a member's share of its figures and says which rows were split. */
class ReportAccumulatorSharesTest {
  private static final Instant H0 = Instant.parse("2026-11-03T10:00:00Z");
  private static final Instant H1 = Instant.parse("2026-11-03T11:00:00Z");

  @Test
  void aSharedMemberAddsItsShareRoundedHalfEvenAndTheRowSaysSo() {
    List<ReportRow> rows = new ArrayList<>();
    var report = new ReportAccumulator(By.GROUP, Map.of("uni", Map.of("acme", new BigDecimal("60"))), rows::add);
    // acme: 1001 bytes stored, 11 bytes in, 3 pulls (60%: 600.6, 6.6, 1.8); globex whole: 100 stored.
    report.add("uni", "acme", H0, 1001, null, 11, 0, 0, 3, 0, null, 0, null);
    report.add("uni", "globex", H0, 100, null, 0, 5, 0, 0, 0, null, 0, null);
    // An hour when only globex moved: acme's storage is carried, and still split.
    report.add("uni", "globex", H1, 0, null, 0, 7, 0, 0, 0, null, 0, null);
    ReportTotals totals = report.finish();

    assertThat(rows).containsExactly(
        new ReportRow(H0, "uni", 701, 7, 5, 0, 2, Map.of("acme", new BigDecimal("60"))),
        new ReportRow(H1, "uni", 701, 0, 7, 0, 0, Map.of("acme", new BigDecimal("60"))));
    assertThat(totals.ingress()).isEqualTo(7);
    assertThat(totals.storagePeak()).isEqualTo(701);
  }

  @Test
  void countsAreSummedWholeEvenForASharedMember() {
    List<ReportRow> rows = new ArrayList<>();
    var report = new ReportAccumulator(By.GROUP, Map.of("uni", Map.of("acme", new BigDecimal("60"))), rows::add);
    report.add("uni", "acme", H0, 1000, null, 0, 0, 0, 0, 3, null, 7, null);
    report.add("uni", "globex", H0, 100, null, 0, 0, 0, 0, 1, null, 2, null);
    report.finish();

    assertThat(rows).containsExactly(new ReportRow(H0, "uni", 700, 0, 0, 0, 0, 4, 9, Map.of("acme", new BigDecimal("60"))));
  }

  @Test
  void withoutSharesNothingChanges() {
    List<ReportRow> rows = new ArrayList<>();
    var report = new ReportAccumulator(By.GROUP, Map.of(), rows::add);
    report.add("uni", "acme", H0, 1001, null, 11, 0, 0, 3, 0, null, 0, null);
    report.finish();
    assertThat(rows).containsExactly(new ReportRow(H0, "uni", 1001, 11, 0, 0, 3));
    assertThat(rows.get(0).split()).isEmpty();
  }
}
