package dev.quotaproxy.ledger.chargeback;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.ledger.chargeback.Statement.Line;
import dev.quotaproxy.ledger.reports.By;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.YearMonth;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Storage byte-hours after a delete, computed by hand: an hour where storage changed counts at its high
 * water, the hours after it at the level it closed at; a rolled-up day holds its high water for its 24
 * hours, then its close. November 2026: 720 hours; one price, 0.10 per GiB-month.
 */
class MeteringTest {
  private static final long GIB = 1L << 30;
  private static final YearMonth NOVEMBER = YearMonth.of(2026, 11);
  private static final Instant START = Statement.start(NOVEMBER);
  private static final Instant END = Statement.end(NOVEMBER);
  private static final PriceList PRICES = new PriceList(List.of(StatementTest.version("2026-10-01", "0.10", "0.05", "0.01", "0.40")));

  private static Instant hour(int hours) {
    return START.plusSeconds(3600L * hours);
  }

  private static BigDecimal storage(Map<String, Metering.KeyUsage> usage, String key) {
    return usage.get(key).measured()[0][Item.STORAGE.ordinal()];
  }

  private static Metering metering() {
    return new Metering(List.of(START), END, Map.of());
  }

  /**
   * 10 GiB from hour 0; in hour 4, 6 GiB deleted (high 10, closed at 4): 10 GiB x 5 h + 4 GiB x 715 h =
   * 2,910 GiB-hours = 4.041667 GiB-months x 0.10 = 0.40. Carrying the high water it was 7,200 GiB-hours.
   */
  @Test
  void theHoursAfterADeleteCountAtTheLevelItLeft() {
    Metering metering = metering();
    metering.add("acme", "acme", hour(0), false, 10 * GIB, 10 * GIB, 0, 0, 0, 0);
    metering.add("acme", "acme", hour(4), false, 10 * GIB, 4 * GIB, 0, 0, 0, 0);
    metering.add("acme", "acme", hour(30), false, 0, null, 0, GIB, 0, 3);
    var usage = metering.finish();
    assertThat(storage(usage, "acme")).isEqualByComparingTo(BigDecimal.valueOf(2910 * GIB));

    Statement statement = Statement.of(NOVEMBER, By.SCOPE, PRICES.segments(START, END), usage);
    Line line = statement.lines().stream().filter(l -> l.item() == Item.STORAGE).findFirst().orElseThrow();
    assertThat(line.quantity()).isEqualByComparingTo("4.041667");
    assertThat(line.amount()).isEqualByComparingTo("0.40");
    assertThat(statement.total())
        .isEqualByComparingTo(statement.lines().stream().map(Line::amount).reduce(BigDecimal.ZERO, BigDecimal::add));
  }

  /**
   * A seed of 3 GiB (where the last change before the period left it); emptied in hour 10, which counts at its
   * high: 3 x 11 + 0 = 33 GiB-hours.
   */
  @Test
  void aSeedIsItsCloseAndALevelFallenToZeroCountsNothing() {
    Metering metering = metering();
    metering.add("acme", "acme", null, false, 0, 3 * GIB, 0, 0, 0, 0);
    metering.add("acme", "acme", hour(10), false, 3 * GIB, 0L, 0, 0, 0, 0);
    metering.add("acme", "acme", hour(20), false, 0, null, 0, 5, 0, 1);
    assertThat(storage(metering.finish(), "acme")).isEqualByComparingTo(BigDecimal.valueOf(33 * GIB));
  }

  /**
   * Day 2 rolled up: 6 GiB at most, left at 2: 6 x 24 + 2 x 672 (hours 48 to 720) = 1,488 GiB-hours. An hour
   * of another part inside the day does not cut it short; acme/b: 1 GiB from hour 30 (1 x 690).
   */
  @Test
  void aRolledUpDayHoldsItsHighWaterForItsHoursThenItsClose() {
    Metering metering = new Metering(List.of(START), END, Map.of());
    metering.add("uni", "acme/a", hour(24), true, 6 * GIB, 2 * GIB, 0, 0, 0, 0);
    metering.add("uni", "acme/b", hour(30), false, GIB, GIB, 0, 0, 0, 0);
    assertThat(storage(metering.finish(), "uni")).isEqualByComparingTo(BigDecimal.valueOf((6 * 24 + 2 * 672 + 690) * GIB));
  }

  /** A row recorded before closes were (close null) carries its high water, as reports did before. */
  @Test
  void aRowWithoutACloseCarriesItsHighWater() {
    Metering metering = metering();
    metering.add("acme", "acme", hour(700), false, GIB, null, 0, 0, 0, 0);
    assertThat(storage(metering.finish(), "acme")).isEqualByComparingTo(BigDecimal.valueOf(20 * GIB));
  }
}
