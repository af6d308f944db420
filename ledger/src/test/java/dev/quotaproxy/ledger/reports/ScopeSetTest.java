package dev.quotaproxy.ledger.reports;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class ScopeSetTest {
  @Test
  void aMemberUnderAnotherAddsNothing() {
    assertThat(ScopeSet.of(List.of("acme/team", "acme", "globex/x", "acme/team/app")).roots())
        .containsExactly("acme", "globex/x");
  }

  @Test
  void aNameThatMerelyStartsLikeAnotherIsNotUnderIt() {
    // "acme/team-x" sorts between "acme/team" and "acme/team/app": each is checked against every root.
    assertThat(ScopeSet.of(List.of("acme/team", "acme/team-x", "acme/team/app", "acmecorp")).roots())
        .containsExactly("acme/team", "acme/team-x", "acmecorp");
    assertThat(ScopeSet.covers("acme", "acmecorp")).isFalse();
    assertThat(ScopeSet.covers("acme", "acme/x")).isTrue();
    assertThat(ScopeSet.covers("acme/x", "acme")).isFalse();
  }

  @Test
  void anIntersectionKeepsTheNarrowerOfNestedRoots() {
    ScopeSet grants = ScopeSet.of(List.of("acme/team", "globex"));
    ScopeSet group = ScopeSet.of(List.of("acme", "globex/app", "initech"));
    assertThat(group.intersect(grants).roots()).containsExactly("acme/team", "globex/app");
    assertThat(grants.intersect(group)).isEqualTo(group.intersect(grants));
    assertThat(ScopeSet.of(List.of("acme")).intersect(ScopeSet.of(List.of("globex"))).isEmpty()).isTrue();
  }

  @Test
  void containsCoversRootsAndWhatIsUnderThem() {
    ScopeSet set = ScopeSet.of(List.of("acme/team"));
    assertThat(set.contains("acme/team/app")).isTrue();
    assertThat(set.contains("acme/team")).isTrue();
    assertThat(set.contains("acme")).isFalse();
  }
}
