package dev.quotaproxy.admin.reports;

import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

/**
 * The report page, {@code /reports}: static HTML and script, public. The data comes from the API with
 * a token the reader gives (in the URL fragment, which browsers never send, or in the form), so the
 * page itself holds nothing. ECharts is served from its webjar in the proxy's jar: no CDN, no build step.
 */
final class ReportPage {
  private ReportPage() {}

  private static final String HERE = "dev/quotaproxy/admin/reports/";
  static final String ECHARTS = "META-INF/resources/webjars/echarts/5.3.1/dist/echarts.min.js";
  /** Scripts from this origin only, no inline script: a page that holds a token runs nothing else. */
  private static final String POLICY = "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self' data:;"
      + " style-src 'self' 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

  static void routes(Router router) {
    router.get("/reports").handler(ctx -> send(ctx, HERE + "report.html", "text/html; charset=utf-8", "no-cache"));
    router.get("/reports/report.js").handler(ctx -> send(ctx, HERE + "report.js", "text/javascript; charset=utf-8", "no-cache"));
    router.get("/reports/report.css").handler(ctx -> send(ctx, HERE + "report.css", "text/css; charset=utf-8", "no-cache"));
    router.get("/reports/echarts.min.js").handler(ctx -> send(ctx, ECHARTS, "text/javascript; charset=utf-8", "max-age=86400"));
  }

  private static void send(RoutingContext ctx, String resource, String type, String cache) {
    ctx.response().putHeader("Content-Type", type).putHeader("Cache-Control", cache)
        .putHeader("Content-Security-Policy", POLICY).putHeader("Referrer-Policy", "no-referrer")
        .putHeader("X-Content-Type-Options", "nosniff")
        .sendFile(resource).onFailure(ctx::fail);
  }
}
