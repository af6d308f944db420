package dev.quotaproxy.ledger.reports;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * A report's period, {@code [from, to)}, in whole buckets: {@code from} is moved back to the start of
 * its bucket and {@code to} forward to the end of its, so the first and last buckets are complete
 * and agree with every other report over them. Pure.
 */
public record Period(Granularity granularity, Instant from, Instant to) {
  /** Without {@code from}: the last two days of hours, or the last 30 days. */
  public static final Duration DEFAULT_HOURS = Duration.ofHours(48);
  public static final Duration DEFAULT_DAYS = Duration.ofDays(30);
  /** Bounds on what one request may ask for; a CSV of the longest is streamed, never held. */
  public static final Duration MAX_HOURS = Duration.ofDays(400);
  public static final Duration MAX_DAYS = Duration.ofDays(3700);

  public Period {
    if (!from.isBefore(to)) {
      throw new IllegalArgumentException("the period is empty: from " + from + " is not before to " + to);
    }
  }

  /**
   * The period asked for, defaults filled in ({@code to}: now, {@code from}: {@link #DEFAULT_HOURS} or
   * {@link #DEFAULT_DAYS} before {@code to}), aligned to whole buckets.
   *
   * @throws IllegalArgumentException when it is empty or longer than the granularity allows
   */
  public static Period of(Granularity granularity, Optional<Instant> from, Optional<Instant> to, Instant now) {
    Instant end = granularity.ceil(to.orElse(now));
    Duration byDefault = granularity == Granularity.HOUR ? DEFAULT_HOURS : DEFAULT_DAYS;
    Instant start = granularity.floor(from.orElse(end.minus(byDefault)));
    if (!start.isBefore(end)) {
      throw new IllegalArgumentException("from (" + start + ") must be before to (" + end + ")");
    }
    Duration max = granularity == Granularity.HOUR ? MAX_HOURS : MAX_DAYS;
    if (Duration.between(start, end).compareTo(max) > 0) {
      throw new IllegalArgumentException("a report by " + granularity.label() + " covers at most " + max.toDays()
          + " days; ask for a shorter period" + (granularity == Granularity.HOUR ? " or granularity=day" : ""));
    }
    return new Period(granularity, start, end);
  }

  /** How many buckets the period holds. */
  public long buckets() {
    return Duration.between(from, to).dividedBy(granularity.length());
  }
}
