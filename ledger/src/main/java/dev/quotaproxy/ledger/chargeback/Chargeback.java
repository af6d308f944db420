package dev.quotaproxy.ledger.chargeback;

import dev.quotaproxy.ledger.reports.Granularity;
import dev.quotaproxy.ledger.reports.Period;
import dev.quotaproxy.ledger.reports.ReportQuery;
import dev.quotaproxy.ledger.reports.Reports;
import java.time.Instant;
import java.time.YearMonth;
import java.util.List;

/**
 * Chargeback statements from the ledger: the price list's segments for the month, the month's hourly
 * rows (by scope or group) measured per segment, then priced. The rows are summed as they stream; what
 * is held is a summary per key. Non-blocking.
 */
public final class Chargeback {
  private final Prices prices;
  private final Reports reports;

  public Chargeback(Prices prices, Reports reports) {
    this.prices = prices;
    this.reports = reports;
  }

  /**
   * The period a statement of {@code month} measures at {@code now}: the month, or for the month under
   * way up to the end of the current hour.
   *
   * @throws IllegalArgumentException for a month that has not begun
   */
  public static Period period(YearMonth month, Instant now) {
    Instant from = Statement.start(month);
    if (!now.isAfter(from)) {
      throw new IllegalArgumentException("month " + month + " has not begun");
    }
    Instant end = Statement.end(month);
    Instant to = now.isBefore(end) ? Granularity.HOUR.ceil(now) : end;
    return new Period(Granularity.HOUR, from, to.equals(from) ? from.plusSeconds(3600) : to);
  }

  /**
   * The statement of {@code query} (by scope or group, by hour, over {@link #period}). Fails with
   * {@link PriceList.NoPriceException} when no price version holds at the month's start.
   */
  public io.vertx.core.Future<Statement> statement(YearMonth month, ReportQuery query) {
    return prices.list().compose(versions -> {
      List<PriceList.Segment> segments = new PriceList(versions).segments(query.period().from(), query.period().to());
      Metering metering = new Metering(segments.stream().map(PriceList.Segment::from).toList(), query.period().to(), query.shares());
      return reports.hourlyRows(query, metering::add)
          .map(done -> Statement.of(month, query.by(), segments, metering.finish()));
    });
  }
}
