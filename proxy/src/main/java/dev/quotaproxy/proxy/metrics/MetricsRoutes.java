package dev.quotaproxy.proxy.metrics;

import dev.quotaproxy.admin.AdminRoutes;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.openapi.router.RouterBuilder;
import io.vertx.micrometer.PrometheusScrapingHandler;

/**
 * The admin listener's routes for machines: {@code GET /metrics} (Prometheus text format),
 * {@code GET /healthz} (the process answers) and {@code GET /readyz} (its dependencies answer too).
 * Public, as scrapers and probes expect on an internal port: none of them tells a scope's usage
 * beyond the near-limit gauges' names and numbers.
 */
public final class MetricsRoutes implements AdminRoutes {
  private final ProxyMetrics metrics;
  private final Readiness readiness;

  public MetricsRoutes(ProxyMetrics metrics, Readiness readiness) {
    this.metrics = metrics;
    this.readiness = readiness;
  }

  /** None of these is in the OpenAPI contract. */
  @Override
  public void operations(RouterBuilder builder) {}

  @Override
  public void plain(Router router) {
    router.get("/metrics").handler(PrometheusScrapingHandler.create(metrics.registry()));
    router.get("/healthz").handler(this::healthz);
    router.get("/readyz").handler(this::readyz);
  }

  private void healthz(RoutingContext ctx) {
    json(ctx, 200, new JsonObject().put("status", "alive"));
  }

  private void readyz(RoutingContext ctx) {
    readiness.run().onComplete(done -> {
      Readiness.Report report = done.result();
      json(ctx, report.ready() ? 200 : 503, report.toJson());
    });
  }

  private static void json(RoutingContext ctx, int status, JsonObject body) {
    ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json")
        .putHeader("Cache-Control", "no-store").end(body.encode());
  }
}
