package dev.quotaproxy.admin.limits;

import dev.quotaproxy.admin.AdminRoutes;
import dev.quotaproxy.admin.ApiErrors;
import dev.quotaproxy.admin.Caller;
import dev.quotaproxy.admin.QuotaControl;
import dev.quotaproxy.admin.QuotaControl.UsageUnavailableException;
import dev.quotaproxy.config.Limits;
import dev.quotaproxy.ledger.limits.LimitsJson;
import dev.quotaproxy.ledger.limits.LimitsLedger;
import dev.quotaproxy.ledger.limits.LimitsLedger.ScopeRecord;
import dev.quotaproxy.ledger.limits.Overcommit.OvercommitException;
import dev.quotaproxy.metering.ScopeUsage;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.openapi.router.RouterBuilder;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Scope limits and usage: {@code listScopes}, {@code getLimits}, {@code putLimits}, {@code deleteLimits},
 * {@code getUsage}. A change is validated, recorded in Postgres with its audit entry in one transaction,
 * then applied to Redis, where every proxy instance's next decision reads it. Reads of a scope are for
 * admins and for viewers granted it; changes are for admins.
 */
public final class LimitsRoutes implements AdminRoutes {
  private static final Logger LOG = LoggerFactory.getLogger(LimitsRoutes.class);

  private final LimitsLedger ledger;
  private final QuotaControl control;

  public LimitsRoutes(LimitsLedger ledger, QuotaControl control) {
    this.ledger = ledger;
    this.control = control;
  }

  @Override
  public void operations(RouterBuilder builder) {
    builder.getRoute("listScopes").addHandler(this::listScopes);
    builder.getRoute("getLimits").addHandler(this::getLimits);
    builder.getRoute("putLimits").addHandler(this::putLimits);
    builder.getRoute("deleteLimits").addHandler(this::deleteLimits);
    builder.getRoute("getUsage").addHandler(this::getUsage);
  }

  private void listScopes(RoutingContext ctx) {
    Caller caller = Caller.of(ctx);
    ScopeListing.Sort sort = ScopeListing.Sort.valueOf(query(ctx, "sort", "usage").toUpperCase(Locale.ROOT));
    boolean descending = query(ctx, "order", "desc").equals("desc");
    int offset = Integer.parseInt(query(ctx, "offset", "0"));
    int limit = Integer.parseInt(query(ctx, "limit", "100"));
    control.scopes().onComplete(listed -> {
      if (listed.failed()) {
        unavailable(ctx, listed.cause());
        return;
      }
      ScopeListing.Page page = ScopeListing.page(listed.result(), caller::mayRead, sort, descending, offset, limit);
      JsonArray scopes = new JsonArray();
      page.scopes().forEach(scope -> scopes.add(scopeJson(scope)));
      ctx.json(new JsonObject().put("total", page.total()).put("offset", offset).put("limit", limit).put("scopes", scopes));
    });
  }

  private void getLimits(RoutingContext ctx) {
    String scope = readableScope(ctx);
    if (scope == null) {
      return;
    }
    ledger.limits(scope)
        .onSuccess(record -> ctx.json(record.map(LimitsRoutes::recordJson)
            .orElseGet(() -> limitsJson(scope, Limits.UNLIMITED).put("updated_at", null).put("updated_by", null))))
        .onFailure(ctx::fail);
  }

  private void putLimits(RoutingContext ctx) {
    String scope = writableScope(ctx);
    if (scope == null) {
      return;
    }
    Limits limits;
    try {
      limits = LimitsInput.limits(ctx.body().asJsonObject());
    } catch (IllegalArgumentException e) {
      ApiErrors.badRequest(ctx, e.getMessage());
      return;
    }
    ledger.putLimits(scope, limits, Caller.of(ctx).name())
        .onSuccess(change -> applyAndAnswer(ctx, change.after()))
        .onFailure(e -> refused(ctx, e));
  }

  private void deleteLimits(RoutingContext ctx) {
    String scope = writableScope(ctx);
    if (scope == null) {
      return;
    }
    ledger.removeLimits(scope, Caller.of(ctx).name()).onSuccess(change -> {
      if (change.isEmpty()) {
        ApiErrors.notFound(ctx, scope + " has no limits to remove");
        return;
      }
      ScopeRecord after = change.get().after();
      apply(after).onComplete(applied -> ctx.response().setStatusCode(204).end());
    }).onFailure(ctx::fail);
  }

  /** Modelled on Glance's quota usage: per resource its usage and limit, -1 for unlimited. */
  private void getUsage(RoutingContext ctx) {
    String scope = readableScope(ctx);
    if (scope == null) {
      return;
    }
    control.scope(scope).onComplete(read -> {
      if (read.failed()) {
        unavailable(ctx, read.cause());
        return;
      }
      ScopeUsage usage = read.result();
      Limits limits = usage.limits();
      ctx.json(new JsonObject().put("scope", scope).put("usage", new JsonObject()
          .put("storage_bytes", new JsonObject().put("usage", usage.used()).put("limit", limits.storageHard())
              .put("reserved", usage.reserved()).put("soft_limit", limits.storageSoft()))
          .put("egress_bytes", new JsonObject().put("usage", usage.egressUsed()).put("limit", limits.egress())
              .put("window_seconds", limits.egressWindowSeconds()))
          .put("repositories", new JsonObject().put("usage", usage.counts().repositories()).put("limit", limits.repositoriesHard())
              .put("reserved", usage.counts().repositoriesReserved()).put("soft_limit", limits.repositoriesSoft()))
          .put("manifests", new JsonObject().put("usage", usage.counts().manifests()).put("limit", limits.manifestsHard())
              .put("reserved", usage.counts().manifestsReserved()).put("soft_limit", limits.manifestsSoft()))));
    });
  }

  /** Redis after Postgres: if Redis cannot take it now, the periodic sync puts it there once it can. */
  private void applyAndAnswer(RoutingContext ctx, ScopeRecord after) {
    apply(after).onComplete(applied -> {
      JsonObject body = recordJson(after).put("in_force", applied.succeeded());
      if (applied.failed()) {
        body.put("message", "recorded, but the quota store could not be reached: the limits take effect once it is back");
      }
      ctx.json(body);
    });
  }

  private Future<Void> apply(ScopeRecord record) {
    return control.applyLimits(record.scope(), record.limits(), record.revision())
        .onFailure(
            e -> LOG.warn("limits of {} recorded but not yet in the quota store (the sync retries): {}", record.scope(), e.toString()));
  }

  private static void refused(RoutingContext ctx, Throwable failure) {
    if (failure instanceof OvercommitException over) {
      ApiErrors.send(ctx, 400, "OVERCOMMIT", over.getMessage(), new JsonObject().put("sum", over.refusal().sum())
          .put("hard_storage", over.refusal().hardStorage()).put("requested", over.refusal().requested()));
    } else {
      ctx.fail(failure);
    }
  }

  static void unavailable(RoutingContext ctx, Throwable failure) {
    String why = failure instanceof UsageUnavailableException
        ? failure.getMessage()
        : "the quota store cannot be reached (" + failure.getMessage() + ")";
    ApiErrors.send(ctx, 400, "USAGE_UNAVAILABLE", "usage is unavailable: " + why);
  }

  /** The validated scope when the caller may read it; else answers 400 or 403 and gives null. */
  private static String readableScope(RoutingContext ctx) {
    String scope = validScope(ctx);
    if (scope != null && !Caller.of(ctx).mayRead(scope)) {
      ApiErrors.forbidden(ctx, "token " + Caller.of(ctx).name() + " is not granted scope " + scope);
      return null;
    }
    return scope;
  }

  private static String writableScope(RoutingContext ctx) {
    if (!Caller.of(ctx).admin()) {
      ApiErrors.forbidden(ctx, "changing limits needs an admin token; " + Caller.of(ctx).name() + " is a viewer");
      return null;
    }
    return validScope(ctx);
  }

  private static String validScope(RoutingContext ctx) {
    try {
      return LimitsInput.scope(ctx.queryParam("scope").get(0));
    } catch (IllegalArgumentException e) {
      ApiErrors.badRequest(ctx, e.getMessage());
      return null;
    }
  }

  static String query(RoutingContext ctx, String name, String fallback) {
    var values = ctx.queryParam(name);
    return values.isEmpty() ? fallback : values.get(0);
  }

  private static JsonObject limitsJson(String scope, Limits limits) {
    return new JsonObject().put("scope", scope).mergeIn(LimitsJson.of(limits));
  }

  private static JsonObject recordJson(ScopeRecord record) {
    return limitsJson(record.scope(), record.limits()).put("updated_at", record.updatedAt().toString()).put("updated_by",
        record.updatedBy());
  }

  private static JsonObject scopeJson(ScopeUsage scope) {
    return new JsonObject().put("scope", scope.scope()).put("used", scope.used()).put("reserved", scope.reserved())
        .put("ratio", ScopeListing.ratio(scope)).put("limits", LimitsJson.of(scope.limits()))
        .put("repositories", scope.counts().repositories()).put("manifests", scope.counts().manifests());
  }
}
