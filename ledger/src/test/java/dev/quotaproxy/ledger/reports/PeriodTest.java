package dev.quotaproxy.ledger.reports;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class PeriodTest {
  private static final Instant NOW = Instant.parse("2026-11-24T12:34:56Z");

  @Test
  void defaultsEndAtTheCurrentBucketsEnd() {
    Period hours = Period.of(Granularity.HOUR, Optional.empty(), Optional.empty(), NOW);
    assertThat(hours.to()).isEqualTo(Instant.parse("2026-11-24T13:00:00Z"));
    assertThat(hours.from()).isEqualTo(Instant.parse("2026-11-22T13:00:00Z"));
    assertThat(hours.buckets()).isEqualTo(48);
    Period days = Period.of(Granularity.DAY, Optional.empty(), Optional.empty(), NOW);
    assertThat(days.to()).isEqualTo(Instant.parse("2026-11-25T00:00:00Z"));
    assertThat(days.from()).isEqualTo(Instant.parse("2026-10-26T00:00:00Z"));
    assertThat(days.buckets()).isEqualTo(30);
  }

  @Test
  void aPeriodIsWidenedToWholeBuckets() {
    Period period = Period.of(Granularity.DAY, Optional.of(Instant.parse("2026-11-01T10:00:00Z")),
        Optional.of(Instant.parse("2026-11-03T00:00:00Z")), NOW);
    assertThat(period.from()).isEqualTo(Instant.parse("2026-11-01T00:00:00Z"));
    assertThat(period.to()).isEqualTo(Instant.parse("2026-11-03T00:00:00Z"));
    assertThat(Granularity.HOUR.ceil(Instant.parse("2026-11-01T10:00:01Z"))).isEqualTo(Instant.parse("2026-11-01T11:00:00Z"));
  }

  @Test
  void emptyAndOverlongPeriodsAreRefusedWithTheReason() {
    assertThatThrownBy(() -> Period.of(Granularity.HOUR, Optional.of(NOW), Optional.of(NOW.minusSeconds(7200)), NOW))
        .hasMessageContaining("must be before");
    assertThatThrownBy(() -> Period.of(Granularity.HOUR, Optional.of(Instant.parse("2024-01-01T00:00:00Z")), Optional.of(NOW), NOW))
        .hasMessageContaining("granularity=day");
    assertThat(Period.of(Granularity.DAY, Optional.of(Instant.parse("2024-01-01T00:00:00Z")), Optional.of(NOW), NOW).buckets())
        .isEqualTo(1059);
  }

  @Test
  void labelsParseBack() {
    assertThat(Granularity.parse("hour")).isEqualTo(Granularity.HOUR);
    assertThat(By.parse("group")).isEqualTo(By.GROUP);
    assertThatThrownBy(() -> By.parse("tenant")).hasMessageContaining("scope, repository, user or group");
  }
}
