package dev.quotaproxy.admin.reports;

import static dev.quotaproxy.admin.StaticPage.CSS;
import static dev.quotaproxy.admin.StaticPage.HTML;
import static dev.quotaproxy.admin.StaticPage.SCRIPT;

import dev.quotaproxy.admin.StaticPage;
import io.vertx.ext.web.Router;

/**
 * The report page, {@code /reports}: static HTML and script, public. The data comes from the API with
 * a token the reader gives (in the URL fragment, which browsers never send, or in the form), so the
 * page itself holds nothing. ECharts is served from its webjar in the proxy's jar: no CDN, no build step.
 * Its stylesheet is the console's too.
 */
final class ReportPage {
  private ReportPage() {}

  private static final String HERE = "dev/quotaproxy/admin/reports/";
  static final String ECHARTS = "META-INF/resources/webjars/echarts/5.3.1/dist/echarts.min.js";

  static void routes(Router router) {
    router.get("/reports").handler(ctx -> StaticPage.send(ctx, HERE + "report.html", HTML, "no-cache"));
    router.get("/reports/report.js").handler(ctx -> StaticPage.send(ctx, HERE + "report.js", SCRIPT, "no-cache"));
    router.get("/reports/report.css").handler(ctx -> StaticPage.send(ctx, HERE + "report.css", CSS, "no-cache"));
    router.get("/reports/echarts.min.js").handler(ctx -> StaticPage.send(ctx, ECHARTS, SCRIPT, "max-age=86400"));
  }
}
