package dev.quotaproxy.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.admin.AdminApi;
import dev.quotaproxy.config.ProxyConfig;
import dev.quotaproxy.ledger.limits.LimitsLedger;
import dev.quotaproxy.proxy.QuotaProxyMain.AdminDependencies;
import dev.quotaproxy.proxy.control.RedisQuotaControl;
import dev.quotaproxy.proxy.metrics.Readiness;
import io.vertx.core.Vertx;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The production list of admin parts serves every operation of the contract; without quotas (no Redis,
 * no Postgres) the operations that need them answer 501 and the probes and metrics are still served.
 */
class AdminWiringTest {
  private static final List<String> LIMITS_OPERATIONS = List.of("listScopes", "getLimits", "putLimits", "deleteLimits", "getSystem",
      "putSystem", "getUsage", "reconcileNow", "listAudit", "listWebhookDeliveries");

  @Test
  void everyOperationOfTheContractIsImplemented() throws Exception {
    Vertx vertx = Vertx.vertx();
    try {
      ProxyConfig config = ProxyConfig.load(List.of("--upstream", "http://127.0.0.1:5000"), Map.of());
      // Nothing is called while routes are registered: the stores behind them are not needed.
      var deps = new AdminDependencies(vertx, config, null, new LimitsLedger(null), new RedisQuotaControl(null, null, null, null), null,
          new Readiness());
      List<String> missing = AdminApi.unimplemented(vertx, QuotaProxyMain.adminParts(deps)).await(20, TimeUnit.SECONDS);
      assertThat(missing).isEmpty();
      // Without quotas there is nothing to serve them from: they answer 501 rather than fail.
      assertThat(
          AdminApi.unimplemented(vertx, QuotaProxyMain.adminParts(AdminDependencies.none(vertx, config))).await(20, TimeUnit.SECONDS))
          .containsAll(LIMITS_OPERATIONS);
    } finally {
      vertx.close().await(10, TimeUnit.SECONDS);
    }
  }
}
