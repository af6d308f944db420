package dev.quotaproxy.ledger.events;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class RetryScheduleTest {
  private final RetrySchedule schedule = new RetrySchedule(Duration.ofSeconds(10), Duration.ofMinutes(10), Duration.ofHours(24));

  @Test
  void waitsDoubleFromTheFirstUpToTheLongest() {
    assertThat(schedule.delayAfter(1)).isEqualTo(Duration.ofSeconds(10));
    assertThat(schedule.delayAfter(2)).isEqualTo(Duration.ofSeconds(20));
    assertThat(schedule.delayAfter(3)).isEqualTo(Duration.ofSeconds(40));
    assertThat(schedule.delayAfter(6)).isEqualTo(Duration.ofSeconds(320));
    assertThat(schedule.delayAfter(7)).isEqualTo(Duration.ofMinutes(10));
    assertThat(schedule.delayAfter(1_000)).isEqualTo(Duration.ofMinutes(10));
  }

  @Test
  void givesUpOnceTheNextAttemptWouldBePastTheEventsAge() {
    Instant event = Instant.parse("2026-12-07T00:00:00Z");

    assertThat(schedule.nextAttempt(event, event.plusSeconds(5), 1)).isEqualTo(event.plusSeconds(15));
    assertThat(schedule.nextAttempt(event, event.plus(Duration.ofHours(23)).plusSeconds(50 * 60), 30))
        .isEqualTo(event.plus(Duration.ofHours(24)));
    assertThat(schedule.nextAttempt(event, event.plus(Duration.ofHours(23)).plusSeconds(51 * 60), 30)).isNull();
  }
}
