package dev.quotaproxy.admin;

import io.vertx.ext.web.RoutingContext;

/**
 * How the admin listener's pages (the report page, the console) and their files are sent: from the jar,
 * public, under a policy that runs scripts from this origin only. The pages hold a token the reader types
 * or passes in the URL fragment, so nothing else may run in them, and they send no referrer.
 */
public final class StaticPage {
  private StaticPage() {}

  static final String POLICY = "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self' data:;"
      + " style-src 'self' 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

  public static final String HTML = "text/html; charset=utf-8";
  public static final String SCRIPT = "text/javascript; charset=utf-8";
  public static final String CSS = "text/css; charset=utf-8";

  /** Sends a classpath resource with its type and cache header. */
  public static void send(RoutingContext ctx, String resource, String type, String cache) {
    ctx.response().putHeader("Content-Type", type).putHeader("Cache-Control", cache)
        .putHeader("Content-Security-Policy", POLICY).putHeader("Referrer-Policy", "no-referrer")
        .putHeader("X-Content-Type-Options", "nosniff")
        .sendFile(resource).onFailure(ctx::fail);
  }
}
