package dev.quotaproxy.metering;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.metering.EgressLimits.Recorded;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which pulls may skip Redis: only those into paths where no scope has an egress limit, once the limits are known. */
class EgressLimitsTest {
  private final EgressLimits limits = new EgressLimits();

  @Test
  void untilTheLimitsAreKnownEveryPullAsksRedis() {
    limits.put("other", 5, 1);
    assertThat(limits.anyOnPathOf("acme/app")).isTrue();
  }

  @Test
  void aLimitOnAnyScopeOfThePathCounts() {
    limits.replaceAll(List.of(new Recorded("acme/team", 1000, 1), new Recorded("globex", -1, 1)));
    assertThat(limits.anyOnPathOf("acme/team/app")).isTrue();
    assertThat(limits.anyOnPathOf("acme/team")).isTrue();
    assertThat(limits.anyOnPathOf("acme/other")).isFalse();
    assertThat(limits.anyOnPathOf("globex/app")).as("-1 is no limit").isFalse();
  }

  @Test
  void aLimitWrittenHereCountsAtOnceAndAnOlderRecordDoesNotUndoANewerWrite() {
    limits.replaceAll(List.of());
    assertThat(limits.anyOnPathOf("acme/app")).isFalse();
    limits.put("acme", 10, 5);
    assertThat(limits.anyOnPathOf("acme/app")).isTrue();
    limits.replaceAll(List.of(new Recorded("acme", -1, 4)));
    assertThat(limits.anyOnPathOf("acme/app")).as("revision 5 stays").isTrue();
    limits.replaceAll(List.of(new Recorded("acme", -1, 6)));
    assertThat(limits.anyOnPathOf("acme/app")).isFalse();
  }

  @Test
  void aScopeTheLedgerNoLongerListsHasNoLimit() {
    limits.replaceAll(List.of(new Recorded("acme", 10, 1)));
    limits.replaceAll(List.of());
    assertThat(limits.anyOnPathOf("acme/app")).isFalse();
  }
}
