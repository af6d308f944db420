package dev.quotaproxy.admin.console;

import static dev.quotaproxy.admin.StaticPage.CSS;
import static dev.quotaproxy.admin.StaticPage.HTML;
import static dev.quotaproxy.admin.StaticPage.SCRIPT;

import dev.quotaproxy.admin.AdminRoutes;
import dev.quotaproxy.admin.StaticPage;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.openapi.router.RouterBuilder;
import java.util.List;

/**
 * The admin console, {@code /console}: a static page (HTML, three script modules, the report page's stylesheet and
 * its own) that shows and changes limits, system settings and the audit log through the API's own
 * operations, with the token the reader gives. It implements no operation: everything it shows or changes
 * goes through the contract, authenticated and validated like any other client.
 */
public final class ConsoleRoutes implements AdminRoutes {
  private static final String HERE = "dev/quotaproxy/admin/console/";

  @Override
  public void operations(RouterBuilder builder) {}

  @Override
  public void plain(Router router) {
    router.get("/console").handler(ctx -> StaticPage.send(ctx, HERE + "console.html", HTML, "no-cache"));
    // ES modules, loaded as they are: no build step.
    for (String script : List.of("console.js", "console-api.js", "console-logs.js", "console-shares.js")) {
      router.get("/console/" + script).handler(ctx -> StaticPage.send(ctx, HERE + script, SCRIPT, "no-cache"));
    }
    router.get("/console/console.css").handler(ctx -> StaticPage.send(ctx, HERE + "console.css", CSS, "no-cache"));
  }
}
