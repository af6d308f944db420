package dev.quotaproxy.admin;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.openapi.router.OpenAPIRoute;
import io.vertx.ext.web.openapi.router.RequestExtractor;
import io.vertx.ext.web.openapi.router.RouterBuilder;
import io.vertx.openapi.contract.OpenAPIContract;
import io.vertx.openapi.validation.ValidatorException;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin listener's router. Every operation of the OpenAPI document ({@value #CONTRACT}, served at
 * {@code /openapi.yaml}) is routed from it: its request is authenticated by bearer token, then
 * validated against the document (a bad request never reaches a handler), then handed to the part
 * implementing it (an operation no part implements answers 501). Errors are JSON ({@link ApiErrors}), 4xx with a message saying what to fix.
 *
 * <p>The order is the security: (1) a request whose path is not in the form Vert.x Web routes it as
 * ({@link CanonicalPath}), or whose query cannot be decoded, is refused before any route sees it; (2) the
 * public pages (the contract, and each part's {@link AdminRoutes#plain plain} routes) answer what they
 * match; (3) everything else needs a token, whatever path it names, so authentication never depends on a
 * second reading of the path agreeing with the router's.
 */
public final class AdminApi {
  private static final Logger LOG = LoggerFactory.getLogger(AdminApi.class);
  public static final String CONTRACT = "dev/quotaproxy/admin/openapi.yaml";
  private static final long MAX_BODY_BYTES = 1024 * 1024;

  private AdminApi() {}

  /** The operationIds of the contract that no part implements; empty when the wiring is complete. */
  public static Future<java.util.List<String>> unimplemented(Vertx vertx, List<AdminRoutes> parts) {
    return OpenAPIContract.from(vertx, CONTRACT).map(contract -> {
      RouterBuilder builder = RouterBuilder.create(vertx, contract, RequestExtractor.withBodyHandler());
      parts.forEach(part -> part.operations(builder));
      return builder.getRoutes().stream().filter(route -> route.getHandlers().isEmpty())
          .map(route -> route.getOperation().getOperationId()).sorted().toList();
    });
  }

  public static Future<Router> router(Vertx vertx, AdminTokens tokens, List<AdminRoutes> parts) {
    return OpenAPIContract.from(vertx, CONTRACT).map(contract -> {
      RouterBuilder builder = RouterBuilder.create(vertx, contract, RequestExtractor.withBodyHandler());
      for (OpenAPIRoute route : builder.getRoutes()) {
        route.setDoSecurity(false); // the scheme documents the bearer token; authenticate() enforces it
      }
      parts.forEach(part -> part.operations(builder));
      for (OpenAPIRoute route : builder.getRoutes()) {
        if (route.getHandlers().isEmpty()) {
          // A test holds the production wiring to every operation; this only keeps a gap from looking like a 404.
          String operation = route.getOperation().getOperationId();
          LOG.warn("admin API operation {} has no handler: it answers 501", operation);
          route.addHandler(ctx -> ApiErrors.send(ctx, 501, "NOT_IMPLEMENTED", operation + " is not served by this proxy"));
        }
      }
      Router router = Router.router(vertx);
      // A route without a path: matching it reads neither the path nor the query, so nothing can fail before it.
      router.route().handler(AdminApi::refuseUnroutable);
      router.get("/openapi.yaml").handler(ctx -> ctx.response().putHeader("Content-Type", "application/yaml")
          .sendFile(CONTRACT).onFailure(e -> ctx.fail(e)));
      parts.forEach(part -> part.plain(router));
      // Whatever no public route answered needs a token, under any path: the token is checked for the request
      // the operations' router will see, not for a path read a second time. And before the body is read and
      // validated: without a valid token a caller learns nothing, not even what is malformed.
      router.route().handler(ctx -> authenticate(tokens, ctx));
      router.route().handler(BodyHandler.create(false).setBodyLimit(MAX_BODY_BYTES));
      Router operations = builder.createRouter();
      // Inside the operations' router too: a failure it does not handle itself would meet its error handler first.
      operations.route().failureHandler(AdminApi::failure);
      router.route().subRouter(operations);
      router.route().failureHandler(AdminApi::failure);
      for (Router each : List.of(router, operations)) {
        // Vert.x answers a route that throws while it is matched (an undecodable path or query, which
        // refuseUnroutable already turns away) with the error handler of that route's router, or, when there is
        // none, with a plain-text 400 and an ERROR with a stack trace in the log.
        each.errorHandler(400, ctx -> ApiErrors.badRequest(ctx, "the request cannot be decoded (see /openapi.yaml)"));
      }
      router.errorHandler(404, ctx -> ApiErrors.notFound(ctx, "no such endpoint: " + ctx.request().method() + " "
          + ctx.request().path() + " (see /openapi.yaml)"));
      router.errorHandler(405, ctx -> ApiErrors.send(ctx, 405, "METHOD_NOT_ALLOWED", ctx.request().method() + " is not allowed on "
          + ctx.request().path() + " (see /openapi.yaml)"));
      return router;
    });
  }

  /**
   * Refuses, with a 400, a request that would be routed as another path than the one it sent (see
   * {@link CanonicalPath}) or whose query string is not valid percent-encoding (it would fail while routes
   * are matched, or in validation, instead of being refused).
   */
  private static void refuseUnroutable(RoutingContext ctx) {
    String path = ctx.request().path();
    String problem = CanonicalPath.problem(path);
    if (problem == null && !path.equals(ctx.normalizedPath())) {
      // Unreachable while CanonicalPath mirrors Vert.x's normalisation; kept because authentication rests on it.
      problem = "the path is routed as " + ctx.normalizedPath();
    }
    if (problem == null) {
      try {
        ctx.request().params();
        ctx.queryParams();
      } catch (RuntimeException undecodable) {
        problem = "the query string is not valid percent-encoding";
      }
    }
    if (problem != null) {
      ApiErrors.badRequest(ctx, problem + " (see /openapi.yaml)");
      return;
    }
    ctx.next();
  }

  private static void authenticate(AdminTokens tokens, RoutingContext ctx) {
    var presented = AdminTokens.bearer(ctx.request().getHeader("Authorization"));
    if (presented.isEmpty()) {
      ApiErrors.send(ctx, 401, "UNAUTHORIZED", "this endpoint needs a token: send Authorization: Bearer <token>");
      return;
    }
    var caller = tokens.authenticate(presented.get());
    if (caller.isEmpty()) {
      ApiErrors.send(ctx, 401, "UNAUTHORIZED", "the bearer token is not valid");
      return;
    }
    ctx.put(Caller.KEY, caller.get());
    ctx.next();
  }

  private static void failure(RoutingContext ctx) {
    String unroutable = CanonicalPath.problem(ctx.request().path());
    if (unroutable != null) {
      // Vert.x fails an empty path or one without a leading / (a 400 or a 404) before refuseUnroutable runs.
      ApiErrors.badRequest(ctx, unroutable + " (see /openapi.yaml)");
      return;
    }
    Throwable failure = ctx.failure();
    for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
      if (cause instanceof ValidatorException invalid) {
        ApiErrors.badRequest(ctx, invalid.getMessage());
        return;
      }
    }
    int status = ctx.statusCode();
    if (status == 413) {
      ApiErrors.send(ctx, 413, "TOO_LARGE", "the request body is over " + MAX_BODY_BYTES + " bytes");
    } else if (status >= 400 && status < 500) {
      ApiErrors.send(ctx, status, "BAD_REQUEST", failure == null ? "bad request" : failure.getMessage());
    } else {
      LOG.error("admin API {} {} failed", ctx.request().method(), ctx.request().path(), failure);
      ApiErrors.send(ctx, 500, "INTERNAL", "the request failed on the server; its log says why");
    }
  }
}
