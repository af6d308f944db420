package dev.quotaproxy.admin.reports;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.admin.AdminApi;
import io.vertx.core.Vertx;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** ReportRoutes serves every operation of the reports and groups part of the contract. */
class ReportRoutesWiringTest {
  static final List<String> OPERATIONS = List.of("getUsageReport", "getReportPdf", "listGroups", "getGroup", "putGroup", "deleteGroup",
      "getChargeback", "listPrices", "putPrices", "deletePrices");

  @Test
  void everyReportsAndGroupsOperationIsImplemented() throws Exception {
    Vertx vertx = Vertx.vertx();
    try {
      // Nothing is called while routes are registered: no pool is needed.
      List<String> missing = AdminApi.unimplemented(vertx, List.of(new ReportRoutes(vertx, null))).await(20, TimeUnit.SECONDS);
      assertThat(missing).doesNotContainAnyElementsOf(OPERATIONS);
      assertThat(AdminApi.unimplemented(vertx, List.of()).await(20, TimeUnit.SECONDS)).containsAll(OPERATIONS);
    } finally {
      vertx.close().await(10, TimeUnit.SECONDS);
    }
  }
}
