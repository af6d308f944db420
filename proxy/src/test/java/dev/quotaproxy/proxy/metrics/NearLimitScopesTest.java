package dev.quotaproxy.proxy.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.quotaproxy.proxy.metrics.NearLimitScopes.ScopeUsage;
import java.util.List;
import org.junit.jupiter.api.Test;

class NearLimitScopesTest {
  private final NearLimitScopes nearLimit = new NearLimitScopes(0.8, 3);

  @Test
  void keepsScopesAtOrAboveTheThresholdFullestFirst() {
    List<ScopeUsage> picked = nearLimit.select(List.of(
        new ScopeUsage("acme", 79, 100),
        new ScopeUsage("globex", 80, 100),
        new ScopeUsage("initech", 95, 100),
        new ScopeUsage("umbrella", 120, 100)));

    assertThat(picked).extracting(ScopeUsage::scope).containsExactly("umbrella", "initech", "globex");
  }

  @Test
  void keepsOnlyTheFullestWhenMoreAreNear() {
    List<ScopeUsage> picked = nearLimit.select(List.of(
        new ScopeUsage("a", 81, 100), new ScopeUsage("b", 99, 100), new ScopeUsage("c", 90, 100),
        new ScopeUsage("d", 85, 100), new ScopeUsage("e", 100, 100)));

    assertThat(picked).extracting(ScopeUsage::scope).containsExactly("e", "b", "c");
  }

  @Test
  void tiesAreBrokenByNameSoTheSetIsStable() {
    List<ScopeUsage> picked = new NearLimitScopes(0.5, 2).select(List.of(
        new ScopeUsage("zeta", 90, 100), new ScopeUsage("alpha", 900, 1000), new ScopeUsage("mid", 9, 10)));

    assertThat(picked).extracting(ScopeUsage::scope).containsExactly("alpha", "mid");
  }

  @Test
  void scopesWithoutAHardLimitAreNeverNearOne() {
    assertThat(nearLimit.select(List.of(new ScopeUsage("acme", 1L << 40, -1)))).isEmpty();
  }

  @Test
  void aZeroLimitIsFullEvenWhenEmpty() {
    ScopeUsage empty = new ScopeUsage("frozen", 0, 0);
    ScopeUsage holding = new ScopeUsage("frozen/app", 10, 0);

    assertThat(empty.ratio()).isEqualTo(1.0);
    assertThat(holding.ratio()).isInfinite();
    assertThat(nearLimit.select(List.of(empty, holding, new ScopeUsage("acme", 99, 100))))
        .extracting(ScopeUsage::scope).containsExactly("frozen/app", "frozen", "acme");
  }

  @Test
  void refusesANegativeThresholdOrSize() {
    assertThatThrownBy(() -> new NearLimitScopes(-0.1, 3)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new NearLimitScopes(0.8, -1)).isInstanceOf(IllegalArgumentException.class);
  }
}
