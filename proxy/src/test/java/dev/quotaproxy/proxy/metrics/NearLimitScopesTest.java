package dev.quotaproxy.proxy.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.quotaproxy.config.Limits;
import dev.quotaproxy.metering.ScopeCounts;
import dev.quotaproxy.metering.ScopeUsage;
import java.util.List;
import org.junit.jupiter.api.Test;

class NearLimitScopesTest {
  private final NearLimitScopes nearLimit = new NearLimitScopes(0.8, 3);

  @Test
  void keepsScopesAtOrAboveTheThresholdFullestFirst() {
    List<ScopeUsage> picked = nearLimit.select(List.of(
        usage("acme", 79, 100),
        usage("globex", 80, 100),
        usage("initech", 95, 100),
        usage("umbrella", 120, 100)));

    assertThat(picked).extracting(ScopeUsage::scope).containsExactly("umbrella", "initech", "globex");
  }

  @Test
  void keepsOnlyTheFullestWhenMoreAreNear() {
    List<ScopeUsage> picked = nearLimit.select(List.of(
        usage("a", 81, 100), usage("b", 99, 100), usage("c", 90, 100),
        usage("d", 85, 100), usage("e", 100, 100)));

    assertThat(picked).extracting(ScopeUsage::scope).containsExactly("e", "b", "c");
  }

  @Test
  void tiesAreBrokenByNameSoTheSetIsStable() {
    List<ScopeUsage> picked = new NearLimitScopes(0.5, 2).select(List.of(
        usage("zeta", 90, 100), usage("alpha", 900, 1000), usage("mid", 9, 10)));

    assertThat(picked).extracting(ScopeUsage::scope).containsExactly("alpha", "mid");
  }

  @Test
  void scopesWithoutAHardLimitAreNeverNearOne() {
    assertThat(nearLimit.select(List.of(usage("acme", 1L << 40, -1)))).isEmpty();
  }

  @Test
  void aScopeNearACountLimitIsNearWhateverItsStorage() {
    ScopeUsage repositories = new ScopeUsage("acme", 5, 0, 0, new Limits(-1, -1, -1, 3600).withCounts(10, -1, -1, -1),
        new ScopeCounts(9, 0, 0, 0));
    ScopeUsage manifests = new ScopeUsage("globex", 10, 0, 0, new Limits(100, -1, -1, 3600).withCounts(-1, -1, 4, -1),
        new ScopeCounts(1, 0, 4, 0));
    ScopeUsage under = new ScopeUsage("initech", 0, 0, 0, new Limits(-1, -1, -1, 3600).withCounts(10, -1, 10, -1),
        new ScopeCounts(7, 0, 7, 0));

    assertThat(NearLimitScopes.fullest(manifests)).isEqualTo(1.0);
    assertThat(nearLimit.select(List.of(repositories, manifests, under))).extracting(ScopeUsage::scope)
        .containsExactly("globex", "acme");
  }

  @Test
  void aZeroLimitIsFullEvenWhenEmpty() {
    ScopeUsage empty = usage("frozen", 0, 0);
    ScopeUsage holding = usage("frozen/app", 10, 0);

    assertThat(NearLimitScopes.ratio(empty)).isEqualTo(1.0);
    assertThat(NearLimitScopes.ratio(holding)).isInfinite();
    assertThat(nearLimit.select(List.of(empty, holding, usage("acme", 99, 100))))
        .extracting(ScopeUsage::scope).containsExactly("frozen/app", "frozen", "acme");
  }

  @Test
  void refusesANegativeThresholdOrSize() {
    assertThatThrownBy(() -> new NearLimitScopes(-0.1, 3)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new NearLimitScopes(0.8, -1)).isInstanceOf(IllegalArgumentException.class);
  }

  /** A scope's committed usage under a hard limit (bytes; -1 for none), nothing reserved or pulled. */
  private static ScopeUsage usage(String scope, long used, long hardLimit) {
    return new ScopeUsage(scope, used, 0, 0, new Limits(hardLimit, -1, -1, 3600));
  }
}
