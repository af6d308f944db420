package dev.quotaproxy.ledger.events;

import java.time.Duration;
import java.time.Instant;

/**
 * When a failed webhook delivery is tried again: {@code first} after the first failed attempt, doubling with each
 * further one up to {@code max}; and when it is given up, {@code giveUpAfter} after its event. Pure.
 */
public record RetrySchedule(Duration first, Duration max, Duration giveUpAfter) {

  /** The wait after the {@code attempts}-th failed attempt (1 for the first). */
  public Duration delayAfter(int attempts) {
    Duration delay = first;
    for (int i = 1; i < attempts && delay.compareTo(max) < 0; i++) {
      delay = delay.multipliedBy(2);
    }
    return delay.compareTo(max) > 0 ? max : delay;
  }

  /**
   * When to try again after a failed attempt at {@code now}, or null to give up: the event is older than
   * {@code giveUpAfter}, or would be by the next attempt.
   */
  public Instant nextAttempt(Instant eventAt, Instant now, int attempts) {
    Instant next = now.plus(delayAfter(attempts));
    return next.isAfter(eventAt.plus(giveUpAfter)) ? null : next;
  }
}
