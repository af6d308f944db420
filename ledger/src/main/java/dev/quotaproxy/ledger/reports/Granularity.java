package dev.quotaproxy.ledger.reports;

import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

/** The length of a report's time buckets, aligned to UTC. */
public enum Granularity {
  HOUR(ChronoUnit.HOURS), DAY(ChronoUnit.DAYS);

  private final ChronoUnit unit;

  Granularity(ChronoUnit unit) {
    this.unit = unit;
  }

  public Duration length() {
    return unit.getDuration();
  }

  /** The start of the bucket {@code at} falls in. */
  public Instant floor(Instant at) {
    return at.truncatedTo(unit);
  }

  /** The start of the first bucket that begins at or after {@code at}. */
  public Instant ceil(Instant at) {
    Instant floor = floor(at);
    return floor.equals(at) ? at : floor.plus(length());
  }

  /** Its name in the API: {@code hour}, {@code day}. */
  public String label() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }

  public static Granularity parse(String label) {
    for (Granularity granularity : values()) {
      if (granularity.label().equals(label)) {
        return granularity;
      }
    }
    throw new IllegalArgumentException("granularity must be hour or day, not '" + label + "'");
  }
}
