package dev.quotaproxy.proxy.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.config.Limits;
import dev.quotaproxy.config.SystemSettings;
import dev.quotaproxy.metering.ScopeCounts;
import dev.quotaproxy.metering.ScopeUsage;
import dev.quotaproxy.metering.SystemUsage;
import dev.quotaproxy.metering.sync.LedgerLag;
import dev.quotaproxy.proxy.metrics.StateGauges.Reconciliation;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.List;
import org.junit.jupiter.api.Test;

class StateGaugesTest {
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final StateGauges gauges = new StateGauges(registry, new NearLimitScopes(0.8, 2));

  @Test
  void scopeGaugesFollowTheNearLimitSet() {
    gauges.scopes(List.of(usage("acme", 90, 100), usage("globex", 10, 100)));

    assertThat(gauges.reportedScopes()).containsExactly("acme");
    assertThat(scope("quota_proxy.scope.usage", "acme")).isEqualTo(90);
    assertThat(scope("quota_proxy.scope.limit", "acme")).isEqualTo(100);
    assertThat(scope("quota_proxy.scope.usage.ratio", "acme")).isEqualTo(0.9);
    assertThat(registry.find("quota_proxy.scope.usage").tag("scope", "globex").gauge()).isNull();

    // acme is freed, globex fills: acme's gauges go, globex's come.
    gauges.scopes(List.of(usage("acme", 20, 100), usage("globex", 85, 100)));

    assertThat(gauges.reportedScopes()).containsExactly("globex");
    assertThat(registry.find("quota_proxy.scope.usage").tag("scope", "acme").gauge()).isNull();
    assertThat(registry.find("quota_proxy.scope.limit").tag("scope", "acme").gauge()).isNull();
    assertThat(scope("quota_proxy.scope.usage", "globex")).isEqualTo(85);
  }

  @Test
  void aScopeNearItsRepositoryLimitHasItsCountsAsGauges() {
    gauges.scopes(List.of(new ScopeUsage("acme", 5, 0, 0, new Limits(-1, -1, -1, 3600).withCounts(10, -1, -1, -1),
        new ScopeCounts(9, 1, 40, 0))));

    assertThat(gauges.reportedScopes()).containsExactly("acme");
    assertThat(scope("quota_proxy.scope.repositories", "acme")).isEqualTo(9);
    assertThat(scope("quota_proxy.scope.repositories.limit", "acme")).isEqualTo(10);
    assertThat(scope("quota_proxy.scope.manifests", "acme")).isEqualTo(40);
    assertThat(scope("quota_proxy.scope.manifests.limit", "acme")).isEqualTo(-1);
    assertThat(scope("quota_proxy.scope.usage.ratio", "acme")).isNaN();
  }

  @Test
  void atMostMaxScopesHaveGaugesAndAllNearOnesAreCounted() {
    gauges.scopes(List.of(usage("a", 81, 100), usage("b", 99, 100), usage("c", 90, 100)));

    assertThat(gauges.reportedScopes()).containsExactlyInAnyOrder("b", "c");
    assertThat(registry.find("quota_proxy.scope.usage").gauges()).hasSize(2);
    assertThat(registry.get("quota_proxy.scopes.near.limit").gauge().value()).isEqualTo(3);
  }

  @Test
  void aScopeStillNearHasItsValuesUpdatedInPlace() {
    gauges.scopes(List.of(usage("acme", 90, 100)));
    gauges.scopes(List.of(usage("acme", 95, 100)));

    assertThat(registry.find("quota_proxy.scope.usage").gauges()).hasSize(1);
    assertThat(scope("quota_proxy.scope.usage", "acme")).isEqualTo(95);
  }

  @Test
  void systemLagAndDriftReadUnknownUntilSampled() {
    assertThat(registry.get("quota_proxy.system.usage").gauge().value()).isNaN();
    assertThat(registry.get("quota_proxy.ledger.pending.events").gauge().value()).isNaN();

    gauges.system(new SystemUsage(950, 30), new SystemSettings(1000, 0.95, false, false, 30));
    gauges.ledgerLag(new LedgerLag.Lag(12, 3_500, 1));
    gauges.reconciliations(List.of(new Reconciliation("registry", 2, 4096, 1_700_000_000)));

    assertThat(registry.get("quota_proxy.system.usage").gauge().value()).isEqualTo(950);
    assertThat(registry.get("quota_proxy.system.reserved").gauge().value()).isEqualTo(30);
    assertThat(registry.get("quota_proxy.system.hard.limit").gauge().value()).isEqualTo(1000);
    assertThat(registry.get("quota_proxy.system.read.only").gauge().value()).isEqualTo(1);
    assertThat(registry.get("quota_proxy.ledger.pending.events").gauge().value()).isEqualTo(12);
    assertThat(registry.get("quota_proxy.ledger.oldest.pending.age").gauge().value()).isEqualTo(3.5);
    assertThat(registry.get("quota_proxy.ledger.stalled.namespaces").gauge().value()).isEqualTo(1);
    assertThat(registry.get("quota_proxy.drift.scopes").tag("kind", "registry").gauge().value()).isEqualTo(2);
    assertThat(registry.get("quota_proxy.drift").tag("kind", "registry").gauge().value()).isEqualTo(4096);

    gauges.system(new SystemUsage(100, 0), new SystemSettings(1000, 0.95, false, false, 30));
    gauges.reconciliations(List.of(new Reconciliation("registry", 0, 0, 1_700_000_600)));
    assertThat(registry.get("quota_proxy.system.read.only").gauge().value()).isZero();
    assertThat(registry.get("quota_proxy.drift.scopes").tag("kind", "registry").gauge().value()).isZero();
    assertThat(registry.find("quota_proxy.drift.scopes").gauges()).hasSize(1);
  }

  private double scope(String name, String scope) {
    return registry.get(name).tag("scope", scope).gauge().value();
  }

  /** A scope's committed usage under a hard limit (bytes; -1 for none), nothing reserved or pulled. */
  private static ScopeUsage usage(String scope, long used, long hardLimit) {
    return new ScopeUsage(scope, used, 0, 0, new Limits(hardLimit, -1, -1, 3600));
  }
}
