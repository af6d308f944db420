package dev.quotaproxy.ledger.chargeback;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class PriceListTest {
  private static final Instant NOV = Instant.parse("2026-11-01T00:00:00Z");
  private static final Instant DEC = Instant.parse("2026-12-01T00:00:00Z");

  @Test
  void aVersionHoldsFromItsDateUntilTheNextOnes() {
    PriceVersion october = StatementTest.version("2026-10-01", "1", "1", "1", "1");
    PriceVersion mid = StatementTest.version("2026-11-16", "2", "2", "2", "2");
    PriceVersion december = StatementTest.version("2026-12-01", "3", "3", "3", "3");
    var segments = new PriceList(List.of(december, mid, october)).segments(NOV, DEC);
    assertThat(segments).containsExactly(new PriceList.Segment(NOV, Instant.parse("2026-11-16T00:00:00Z"), october),
        new PriceList.Segment(Instant.parse("2026-11-16T00:00:00Z"), DEC, mid));
    assertThat(segments.get(0).hours()).isEqualTo(360);
    // An earlier month keeps the prices it had.
    assertThat(new PriceList(List.of(december, mid, october)).segments(Instant.parse("2026-10-01T00:00:00Z"), NOV))
        .containsExactly(new PriceList.Segment(Instant.parse("2026-10-01T00:00:00Z"), NOV, october));
    // A version taking effect on the month's first day holds it all.
    assertThat(new PriceList(List.of(october, december)).segments(DEC, Instant.parse("2027-01-01T00:00:00Z")))
        .extracting(PriceList.Segment::prices).containsExactly(december);
  }

  @Test
  void aMonthBeforeAnyVersionHasNoPrice() {
    assertThatThrownBy(() -> new PriceList(List.of()).segments(NOV, DEC)).isInstanceOf(PriceList.NoPriceException.class)
        .hasMessageContaining("there is none");
    assertThatThrownBy(() -> new PriceList(List.of(StatementTest.version("2026-11-02", "1", "1", "1", "1"))).segments(NOV, DEC))
        .hasMessageContaining("the earliest takes effect on 2026-11-02");
  }

  @Test
  void pricesAreNonNegativeDecimalsWithAtMostEightDecimals() {
    assertThat(Money.price("egress_gib", "0.02300000")).isEqualTo(new BigDecimal("0.023"));
    assertThat(Money.price("egress_gib", 0.023)).isEqualTo(new BigDecimal("0.023"));
    assertThat(Money.price("egress_gib", "10")).isEqualTo(new BigDecimal("10"));
    assertThatThrownBy(() -> Money.price("egress_gib", "-1")).hasMessageContaining("negative");
    assertThatThrownBy(() -> Money.price("egress_gib", "0.000000001")).hasMessageContaining("8 decimals");
    assertThatThrownBy(() -> Money.price("egress_gib", "cheap")).hasMessageContaining("egress_gib must be a decimal");
    assertThatThrownBy(() -> Money.price("egress_gib", null)).hasMessageContaining("required");
  }

  @Test
  void amountsAreRoundedHalfEvenOnceFromTheExactQuantity() {
    BigDecimal gib = Item.GIB;
    // 2.5 GiB at 0.01: 0.025 -> 0.02; 3.5 GiB: 0.035 -> 0.04; a third of a GiB at 0.03: 0.01 exactly.
    assertThat(Money.amount(gib.multiply(new BigDecimal("2.5")), gib, new BigDecimal("0.01"))).isEqualTo(new BigDecimal("0.02"));
    assertThat(Money.amount(gib.multiply(new BigDecimal("3.5")), gib, new BigDecimal("0.01"))).isEqualTo(new BigDecimal("0.04"));
    assertThat(Money.amount(BigDecimal.valueOf((1L << 30) / 3 * 3 + 3).divide(BigDecimal.valueOf(3)), gib,
        new BigDecimal("0.03"))).isEqualTo(new BigDecimal("0.01"));
  }
}
