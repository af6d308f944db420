package dev.quotaproxy.ledger.reports;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SharesTest {
  private record Named(String name, Shares.Members members) {}

  private static Named group(String name, List<String> scopes, Map<String, String> shares) {
    Map<String, BigDecimal> parsed = new java.util.TreeMap<>();
    shares.forEach((scope, share) -> parsed.put(scope, Shares.parse(scope, share)));
    return new Named(name, new Shares.Members(scopes, parsed));
  }

  private static java.util.Optional<Shares.Excess> excess(List<Named> groups) {
    Map<String, Shares.Members> byName = new java.util.TreeMap<>();
    for (Named group : groups) {
      byName.put(group.name(), group.members());
    }
    return Shares.excess(byName);
  }

  @Test
  void sharesAreExactPercentsAboveZeroAndAtMostAHundred() {
    assertThat(Shares.parse("acme", "60%")).isEqualByComparingTo("60");
    assertThat(Shares.parse("acme", 33.3333)).isEqualByComparingTo("33.3333");
    assertThat(Shares.text(Shares.parse("acme", "60.0000"))).isEqualTo("60");
    assertThat(Shares.text(Shares.parse("acme", "100"))).isEqualTo("100");
    assertThatThrownBy(() -> Shares.parse("acme", "0")).hasMessageContaining("above 0%");
    assertThatThrownBy(() -> Shares.parse("acme", "100.01%")).hasMessageContaining("at most 100%");
    assertThatThrownBy(() -> Shares.parse("acme", "33.33333")).hasMessageContaining("4 decimals");
    assertThatThrownBy(() -> Shares.parse("acme", "sixty")).hasMessageContaining("the share of acme");
  }

  @Test
  void aShareBelongsToAMemberThatIsARootOfItsGroup() {
    Shares.checkMembers(List.of("acme", "globex"), Map.of("acme", BigDecimal.TEN));
    assertThatThrownBy(() -> Shares.checkMembers(List.of("acme"), Map.of("globex", BigDecimal.TEN)))
        .hasMessageContaining("not one of the group's scopes");
    assertThatThrownBy(() -> Shares.checkMembers(List.of("acme", "acme/team"), Map.of("acme/team", BigDecimal.TEN)))
        .hasMessageContaining("under another scope");
  }

  @Test
  void sharesOfOneScopeAddUpToAtMostAHundred() {
    Named uni = group("uni", List.of("acme", "globex"), Map.of("acme", "60%"));
    assertThat(excess(List.of(uni, group("corp", List.of("acme"), Map.of("acme", "40%"))))).isEmpty();

    var over = excess(List.of(uni, group("corp", List.of("acme"), Map.of("acme", "50.5%")))).orElseThrow();
    assertThat(over.scope()).isEqualTo("acme");
    assertThat(over.sum()).isEqualByComparingTo("110.5");
    assertThat(over.byGroup()).containsOnlyKeys("corp", "uni");
    assertThat(over.message()).contains("acme").contains("110.5%");
  }

  @Test
  void aMemberWithoutAShareCountsWholeWhereverAShareIsInvolved() {
    // Groups that only overlap, without shares, stay as they were: the scope counts in both.
    assertThat(excess(List.of(group("uni", List.of("acme"), Map.of()), group("corp", List.of("acme"), Map.of())))).isEmpty();
    var over = excess(List.of(group("uni", List.of("acme"), Map.of()), group("corp", List.of("acme"), Map.of("acme", "10"))));
    assertThat(over.orElseThrow().sum()).isEqualByComparingTo("110");
  }

  @Test
  void aShareOfAnAncestorCountsForTheScopesUnderIt() {
    // corp takes half of acme/team, and uni takes 60% of acme, acme/team's usage included: 110% of acme/team.
    Named uni = group("uni", List.of("acme"), Map.of("acme", "60"));
    var over = excess(List.of(uni, group("corp", List.of("acme/team"), Map.of("acme/team", "50")))).orElseThrow();
    assertThat(over.scope()).isEqualTo("acme/team");
    assertThat(over.sum()).isEqualByComparingTo("110");
    assertThat(excess(List.of(uni, group("corp", List.of("acme/team"), Map.of("acme/team", "40"))))).isEmpty();
  }
}
