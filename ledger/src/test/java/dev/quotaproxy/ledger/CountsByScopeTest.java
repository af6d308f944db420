package dev.quotaproxy.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

class CountsByScopeTest {
  @Test
  void repositoriesHoldingAnythingAndTheirManifestsRollUpIntoEveryScopeOfTheirPath() {
    Map<String, CountsByScope> counts = CountsByScope.rollUp(
        Map.of("acme/app", 3L, "acme/app/sub", 1L, "acme/lib", 2L, "acme/empty", 0L),
        Map.of("acme/app", 2L, "acme/lib", 1L));

    assertThat(counts).containsExactlyInAnyOrderEntriesOf(Map.of(
        "acme", new CountsByScope(3, 3),
        "acme/app", new CountsByScope(2, 2),
        "acme/app/sub", new CountsByScope(1, 0),
        "acme/lib", new CountsByScope(1, 1)));
  }
}
