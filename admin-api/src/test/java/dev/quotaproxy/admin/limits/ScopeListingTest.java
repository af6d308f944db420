package dev.quotaproxy.admin.limits;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.admin.limits.ScopeListing.Sort;
import dev.quotaproxy.config.Limits;
import dev.quotaproxy.metering.ScopeUsage;
import java.util.List;
import org.junit.jupiter.api.Test;

class ScopeListingTest {
  private static ScopeUsage scope(String name, long used, long hard) {
    return new ScopeUsage(name, used, 0, 0, new Limits(hard, -1, -1, 3600));
  }

  private static final List<ScopeUsage> ALL = List.of(
      scope("acme", 500, 1000), // 50%
      scope("acme/app", 400, -1), // no hard limit
      scope("globex", 90, 100), // 90%
      scope("initech", 0, 10), // limit, no usage
      scope("empty", 0, -1), // neither: not listed
      scope("umbrella", 700, -1));

  private static List<String> names(ScopeListing.Page page) {
    return page.scopes().stream().map(ScopeUsage::scope).toList();
  }

  @Test
  void scopesWithALimitOrUsageAreListedSortedEitherWay() {
    assertThat(names(ScopeListing.page(ALL, s -> true, Sort.USAGE, true, 0, 100)))
        .containsExactly("umbrella", "acme", "acme/app", "globex", "initech");
    assertThat(names(ScopeListing.page(ALL, s -> true, Sort.NAME, false, 0, 100)))
        .containsExactly("acme", "acme/app", "globex", "initech", "umbrella");
    assertThat(names(ScopeListing.page(ALL, s -> true, Sort.RATIO, true, 0, 100)))
        .as("scopes without a hard limit last, in name order")
        .containsExactly("globex", "acme", "initech", "acme/app", "umbrella");
  }

  @Test
  void pagesCarryTheTotalAndAViewerSeesOnlyItsGrant() {
    ScopeListing.Page page = ScopeListing.page(ALL, s -> true, Sort.NAME, false, 1, 2);
    assertThat(page.total()).isEqualTo(5);
    assertThat(names(page)).containsExactly("acme/app", "globex");
    assertThat(ScopeListing.page(ALL, s -> true, Sort.NAME, false, 10, 2).scopes()).isEmpty();
    ScopeListing.Page acmeOnly = ScopeListing.page(ALL, s -> s.equals("acme") || s.startsWith("acme/"), Sort.NAME, false, 0, 10);
    assertThat(acmeOnly.total()).isEqualTo(2);
    assertThat(names(acmeOnly)).containsExactly("acme", "acme/app");
  }

  @Test
  void theRatioIsUsedOverHardAndAbsentWithoutAHardLimit() {
    assertThat(ScopeListing.ratio(scope("a", 500, 1000))).isEqualTo(0.5);
    assertThat(ScopeListing.ratio(scope("a", 500, -1))).isNull();
    assertThat(ScopeListing.ratio(scope("a", 0, 0))).isEqualTo(1.0);
  }
}
