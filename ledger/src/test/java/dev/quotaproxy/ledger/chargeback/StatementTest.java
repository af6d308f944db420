package dev.quotaproxy.ledger.chargeback;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.quotaproxy.ledger.chargeback.Statement.Line;
import dev.quotaproxy.ledger.reports.By;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.LocalDate;
import java.time.YearMonth;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Statements checked against figures computed by hand, across a price change on 2026-11-16 (November:
 * 720 hours, cut into two halves of 360).
 *
 * <pre>
 * prices          storage/GiB-month  egress/GiB  ingress/GiB  per 1,000 pulls
 * from 2026-10-01 0.10               0.05        0.01         0.40
 * from 2026-11-16 0.16               0.08        0.02         0.50
 *
 * acme: 2 GiB stored before November; 3 GiB from 11-11 00:00 (hour 240); 1 GiB from 11-21 00:00 (hour 480).
 *       11-05 10:00: 5 GiB pulled in 1,500 pulls; 11-11 00:00: 2.5 GiB pushed; 11-20 00:00: 3 GiB in 2,500 pulls.
 *
 * first half:  storage 240 h x 2 + 120 h x 3 = 840 GiB-hours = 1.166667 GiB-months x 0.10 = 0.11666 -> 0.12
 *              egress 5 GiB x 0.05 = 0.25; ingress 2.5 GiB x 0.01 = 0.025 -> 0.02 (half-even); pulls 1.5 x 0.40 = 0.60
 * second half: storage 120 h x 3 + 240 h x 1 = 600 GiB-hours = 0.833333 GiB-months x 0.16 = 0.13333 -> 0.13
 *              egress 3 GiB x 0.08 = 0.24; pulls 2.5 x 0.50 = 1.25
 * total 0.12 + 0.13 + 0.25 + 0.24 + 0.02 + 0.60 + 1.25 = 2.61
 * </pre>
 */
class StatementTest {
  private static final long GIB = 1L << 30;
  private static final YearMonth NOVEMBER = YearMonth.of(2026, 11);
  private static final Instant MID = Instant.parse("2026-11-16T00:00:00Z");

  static PriceVersion version(String from, String storage, String egress, String ingress, String pulls) {
    Map<Item, BigDecimal> prices = new EnumMap<>(Item.class);
    prices.put(Item.STORAGE, new BigDecimal(storage));
    prices.put(Item.EGRESS, new BigDecimal(egress));
    prices.put(Item.INGRESS, new BigDecimal(ingress));
    prices.put(Item.PULLS, new BigDecimal(pulls));
    return new PriceVersion(LocalDate.parse(from), "EUR", prices, null, null);
  }

  static final PriceList PRICES = new PriceList(List.of(version("2026-11-16", "0.16", "0.08", "0.02", "0.50"),
      version("2026-10-01", "0.10", "0.05", "0.01", "0.40")));

  /** acme's rows as the hourly report query gives them: its seed first, then by hour. */
  static void feed(Metering metering, String key) {
    metering.add(key, "acme", null, false, 2 * GIB, null, 0, 0, 0, 0);
    metering.add(key, "acme", Instant.parse("2026-11-05T10:00:00Z"), false, 0, null, 0, 5 * GIB, 0, 1500);
    metering.add(key, "acme", Instant.parse("2026-11-11T00:00:00Z"), false, 3 * GIB, null, 5 * GIB / 2, 0, 1, 0);
    metering.add(key, "acme", Instant.parse("2026-11-20T00:00:00Z"), false, 0, null, 0, 3 * GIB, 0, 2500);
    metering.add(key, "acme", Instant.parse("2026-11-21T00:00:00Z"), false, GIB, null, 0, 0, 0, 0);
  }

  static Statement statement(By by, String key, Map<String, Map<String, BigDecimal>> shares) {
    var segments = PRICES.segments(Statement.start(NOVEMBER), Statement.end(NOVEMBER));
    Metering metering = new Metering(segments.stream().map(PriceList.Segment::from).toList(), Statement.end(NOVEMBER), shares);
    feed(metering, key);
    return Statement.of(NOVEMBER, by, segments, metering.finish());
  }

  private static Line line(Statement statement, Item item, Instant from) {
    return statement.lines().stream().filter(line -> line.item() == item && line.from().equals(from)).findFirst().orElseThrow();
  }

  @Test
  void aPriceChangeInTheMonthCutsEachLineIntoTwoPricedApart() {
    Statement statement = statement(By.SCOPE, "acme", Map.of());
    Instant start = Statement.start(NOVEMBER);

    assertThat(statement.hours()).isEqualTo(720);
    assertThat(statement.complete()).isTrue();
    assertThat(statement.lines()).hasSize(7); // no ingress in the second half: no line
    Line storage1 = line(statement, Item.STORAGE, start);
    assertThat(storage1.to()).isEqualTo(MID);
    assertThat(storage1.measured()).isEqualByComparingTo(BigDecimal.valueOf(840 * GIB));
    assertThat(storage1.quantity()).isEqualByComparingTo("1.166667");
    assertThat(storage1.unitPrice()).isEqualByComparingTo("0.10");
    assertThat(storage1.amount()).isEqualByComparingTo("0.12");
    Line storage2 = line(statement, Item.STORAGE, MID);
    assertThat(storage2.measured()).isEqualByComparingTo(BigDecimal.valueOf(600 * GIB));
    assertThat(storage2.quantity()).isEqualByComparingTo("0.833333");
    assertThat(storage2.unitPrice()).isEqualByComparingTo("0.16");
    assertThat(storage2.amount()).isEqualByComparingTo("0.13");
    // The two halves add up to the month's GiB-months: (840 + 600) / 720 = 2.
    assertThat(storage1.measured().add(storage2.measured()).divide(Item.STORAGE.perUnit(720))).isEqualByComparingTo("2");

    assertThat(line(statement, Item.EGRESS, start).amount()).isEqualByComparingTo("0.25");
    assertThat(line(statement, Item.EGRESS, MID).quantity()).isEqualByComparingTo("3");
    assertThat(line(statement, Item.EGRESS, MID).amount()).isEqualByComparingTo("0.24");
    assertThat(line(statement, Item.INGRESS, start).quantity()).isEqualByComparingTo("2.5");
    assertThat(line(statement, Item.INGRESS, start).amount()).isEqualByComparingTo("0.02"); // 0.025, half-even
    assertThat(line(statement, Item.PULLS, start).quantity()).isEqualByComparingTo("1.5");
    assertThat(line(statement, Item.PULLS, start).amount()).isEqualByComparingTo("0.60");
    assertThat(line(statement, Item.PULLS, MID).amount()).isEqualByComparingTo("1.25");

    assertThat(statement.total()).isEqualByComparingTo("2.61");
    assertThat(statement.total())
        .isEqualByComparingTo(statement.lines().stream().map(Line::amount).reduce(BigDecimal.ZERO, BigDecimal::add));
    assertThat(statement.totals()).containsOnlyKeys("acme");
    assertThat(statement.prices()).extracting(PriceVersion::effectiveFrom)
        .containsExactly(LocalDate.parse("2026-10-01"), LocalDate.parse("2026-11-16"));
  }

  /**
   * uni takes 60% of acme: storage 504 and 360 GiB-hours (0.07, 0.08), egress 3 and 1.8 GiB (0.15, 0.144
   * -> 0.14), ingress 1.5 GiB (0.015 -> 0.02), 900 and 1,500 pulls (0.36, 0.75): 1.57. Its lines say so.
   */
  @Test
  void aGroupTakesItsShareOfTheExactFigures() {
    Statement uni = statement(By.GROUP, "uni", Map.of("uni", Map.of("acme", new BigDecimal("60"))));
    Instant start = Statement.start(NOVEMBER);
    assertThat(line(uni, Item.STORAGE, start).measured()).isEqualByComparingTo(BigDecimal.valueOf(504 * GIB));
    assertThat(line(uni, Item.STORAGE, start).amount()).isEqualByComparingTo("0.07");
    assertThat(line(uni, Item.STORAGE, MID).amount()).isEqualByComparingTo("0.08");
    assertThat(line(uni, Item.EGRESS, MID).amount()).isEqualByComparingTo("0.14");
    assertThat(line(uni, Item.INGRESS, start).amount()).isEqualByComparingTo("0.02");
    assertThat(line(uni, Item.PULLS, start).measured()).isEqualByComparingTo("900");
    assertThat(uni.total()).isEqualByComparingTo("1.57");
    assertThat(uni.lines()).allSatisfy(line -> assertThat(line.split()).containsEntry("acme", new BigDecimal("60")));

    // corp's 40%: 0.05 + 0.05 + 0.10 + 0.10 + 0.01 + 0.24 + 0.50. Rounded per line, the shares' total
    // (2.62) need not be the whole scope's (2.61).
    Statement corp = statement(By.GROUP, "corp", Map.of("corp", Map.of("acme", new BigDecimal("40"))));
    assertThat(corp.total()).isEqualByComparingTo("1.05");
  }

  @Test
  void theMonthUnderWayIsMeasuredToTheEndOfTheCurrentHour() {
    var period = Chargeback.period(NOVEMBER, Instant.parse("2026-11-10T08:30:00Z"));
    assertThat(period.from()).isEqualTo(Statement.start(NOVEMBER));
    assertThat(period.to()).isEqualTo(Instant.parse("2026-11-10T09:00:00Z"));
    var segments = PRICES.segments(period.from(), period.to());
    Metering metering = new Metering(List.of(period.from()), period.to(), Map.of());
    metering.add("acme", "acme", null, false, GIB, null, 0, 0, 0, 0);
    Statement statement = Statement.of(NOVEMBER, By.SCOPE, segments, metering.finish());
    assertThat(statement.complete()).isFalse();
    // 225 hours of 1 GiB, over the month's 720: 0.3125 GiB-months.
    assertThat(statement.lines().get(0).quantity()).isEqualByComparingTo("0.3125");
    assertThat(Chargeback.period(NOVEMBER, Instant.parse("2027-01-01T00:00:00Z")).to()).isEqualTo(Statement.end(NOVEMBER));
    assertThatThrownBy(() -> Chargeback.period(YearMonth.of(2027, 1), Instant.parse("2026-12-07T00:00:00Z")))
        .hasMessageContaining("has not begun");
  }
}
