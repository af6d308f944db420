package dev.quotaproxy.admin;

import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

/**
 * The admin API's error body: {@code {"error": {"status": 400, "code": "BAD_REQUEST", "message": "...",
 * "details": {...}}}}, the message a sentence a person can act on, the details the numbers behind it.
 */
public final class ApiErrors {
  private ApiErrors() {}

  public static void send(RoutingContext ctx, int status, String code, String message) {
    send(ctx, status, code, message, null);
  }

  public static void send(RoutingContext ctx, int status, String code, String message, JsonObject details) {
    if (ctx.response().headWritten()) {
      ctx.response().reset();
      return;
    }
    JsonObject error = new JsonObject().put("status", status).put("code", code).put("message", message);
    if (details != null) {
      error.put("details", details);
    }
    if (status == 401) {
      ctx.response().putHeader("WWW-Authenticate", "Bearer realm=\"quota-proxy\"");
    }
    ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json")
        .end(new JsonObject().put("error", error).encode());
  }

  public static void badRequest(RoutingContext ctx, String message) {
    send(ctx, 400, "BAD_REQUEST", message);
  }

  public static void forbidden(RoutingContext ctx, String message) {
    send(ctx, 403, "FORBIDDEN", message);
  }

  public static void notFound(RoutingContext ctx, String message) {
    send(ctx, 404, "NOT_FOUND", message);
  }
}
