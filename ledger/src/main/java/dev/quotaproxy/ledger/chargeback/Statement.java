package dev.quotaproxy.ledger.chargeback;

import dev.quotaproxy.ledger.chargeback.Metering.KeyUsage;
import dev.quotaproxy.ledger.chargeback.PriceList.Segment;
import dev.quotaproxy.ledger.reports.By;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A chargeback statement: for one month, per key (a group or an outermost scope), one line per item and
 * price segment, each with its quantity, unit price and amount, and the totals. A price change inside
 * the month cuts each of the month's lines at its date into two, each with its own quantity and unit
 * price. Lines with nothing measured are left out. See {@link Money} for the rounding. Pure.
 *
 * @param to       the end of what was measured: the month's end, or for the month under way the end of
 *                 the current hour ({@code complete} false)
 * @param hours    the month's hours, what a GiB-month is divided by (a full month's, also while under way)
 */
public record Statement(YearMonth month, By by, Instant from, Instant to, boolean complete, long hours, String currency,
    List<PriceVersion> prices, List<Line> lines, Map<String, BigDecimal> totals, BigDecimal total) {

  /**
   * @param measured the figure priced, in {@link Item#measuredIn} (exact; a decimal where a share applies)
   * @param quantity the measured figure in the item's unit, rounded to {@value Money#QUANTITY_DECIMALS} decimals
   * @param split    for a group, the members taken at a share whose figures are in this line (percent)
   */
  public record Line(String key, Item item, Instant from, Instant to, BigDecimal measured, BigDecimal quantity,
      BigDecimal unitPrice, BigDecimal amount, Map<String, BigDecimal> split) {}

  public static Instant start(YearMonth month) {
    return month.atDay(1).atStartOfDay(ZoneOffset.UTC).toInstant();
  }

  public static Instant end(YearMonth month) {
    return start(month.plusMonths(1));
  }

  public static long hours(YearMonth month) {
    return Duration.between(start(month), end(month)).toHours();
  }

  /** The statement of what {@link Metering} measured over {@code segments}, keys in name order. */
  public static Statement of(YearMonth month, By by, List<Segment> segments, Map<String, KeyUsage> usage) {
    long hours = hours(month);
    Instant from = segments.get(0).from();
    Instant to = segments.get(segments.size() - 1).to();
    List<Line> lines = new ArrayList<>();
    Map<String, BigDecimal> totals = new LinkedHashMap<>();
    BigDecimal total = BigDecimal.ZERO.setScale(Money.CENTS);
    for (var entry : usage.entrySet()) {
      BigDecimal keyTotal = BigDecimal.ZERO.setScale(Money.CENTS);
      for (Item item : Item.values()) {
        BigDecimal perUnit = item.perUnit(hours);
        for (int i = 0; i < segments.size(); i++) {
          BigDecimal measured = entry.getValue().measured()[i][item.ordinal()];
          if (measured.signum() == 0) {
            continue;
          }
          Segment segment = segments.get(i);
          BigDecimal price = segment.prices().price(item);
          BigDecimal amount = Money.amount(measured, perUnit, price);
          lines.add(new Line(entry.getKey(), item, segment.from(), segment.to(), Money.normal(measured),
              Money.quantity(measured, perUnit), price, amount, entry.getValue().split()));
          keyTotal = keyTotal.add(amount);
        }
      }
      totals.put(entry.getKey(), keyTotal);
      total = total.add(keyTotal);
    }
    List<PriceVersion> applied = segments.stream().map(Segment::prices).distinct().toList();
    return new Statement(month, by, from, to, to.equals(end(month)), hours, applied.get(0).currency(), applied,
        List.copyOf(lines), totals, total);
  }
}
