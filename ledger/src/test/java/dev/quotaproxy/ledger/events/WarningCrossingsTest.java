package dev.quotaproxy.ledger.events;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.ledger.events.WarningCrossings.Crossing;
import dev.quotaproxy.ledger.events.WarningCrossings.UsageChange;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class WarningCrossingsTest {
  private static final Instant T = Instant.parse("2026-12-07T10:00:00Z");

  private static UsageChange change(String scope, long delta, int second) {
    return new UsageChange(scope, delta, T.plusSeconds(second));
  }

  @Test
  void crossingUpwardIsOneWarning() {
    List<Crossing> crossings = WarningCrossings.find(Map.of("acme", 70L), List.of(change("acme", 20, 1)), Map.of("acme", 80L));

    assertThat(crossings).containsExactly(new Crossing("acme", T.plusSeconds(1), 70, 90, 80));
  }

  @Test
  void reachingTheLimitExactlyCounts() {
    assertThat(WarningCrossings.find(Map.of("acme", 79L), List.of(change("acme", 1, 1)), Map.of("acme", 80L))).hasSize(1);
  }

  @Test
  void stayingAboveIsNoFurtherWarning() {
    List<Crossing> crossings = WarningCrossings.find(Map.of("acme", 70L),
        List.of(change("acme", 20, 1), change("acme", 5, 2), change("acme", -10, 3), change("acme", 30, 4)), Map.of("acme", 80L));

    assertThat(crossings).extracting(Crossing::at).containsExactly(T.plusSeconds(1));
  }

  @Test
  void goingBelowAndCrossingAgainIsAnotherWarning() {
    List<Crossing> crossings = WarningCrossings.find(Map.of(),
        List.of(change("acme", 90, 1), change("acme", -50, 2), change("acme", 45, 3)), Map.of("acme", 80L));

    assertThat(crossings).extracting(Crossing::at).containsExactly(T.plusSeconds(1), T.plusSeconds(3));
    assertThat(crossings.get(1).usageBefore()).isEqualTo(40);
  }

  @Test
  void alreadyAboveBeforeTheBatchIsNoCrossing() {
    assertThat(WarningCrossings.find(Map.of("acme", 85L), List.of(change("acme", 10, 1)), Map.of("acme", 80L))).isEmpty();
  }

  @Test
  void scopesWithoutASoftLimitNeverWarn() {
    assertThat(WarningCrossings.find(Map.of(), List.of(change("acme", 1_000, 1)), Map.of("acme/app", 10L))).isEmpty();
    assertThat(WarningCrossings.find(Map.of(), List.of(change("acme", 1_000, 1)), Map.of("acme", -1L))).isEmpty();
  }

  @Test
  void usageNeverGoesBelowZeroOnTheWay() {
    // Freeing more than the scope holds leaves 0 (as the ledger records it), so 0 -> 80 crosses once.
    List<Crossing> crossings = WarningCrossings.find(Map.of("acme", 10L),
        List.of(change("acme", -50, 1), change("acme", 80, 2)), Map.of("acme", 80L));

    assertThat(crossings).containsExactly(new Crossing("acme", T.plusSeconds(2), 0, 80, 80));
  }

  @Test
  void eachScopeCrossesOnItsOwn() {
    List<Crossing> crossings = WarningCrossings.find(Map.of("acme", 50L, "acme/app", 5L),
        List.of(change("acme", 40, 1), change("acme/app", 40, 1)), Map.of("acme", 80L, "acme/app", 40L));

    assertThat(crossings).extracting(Crossing::scope).containsExactly("acme", "acme/app");
  }
}
