package dev.quotaproxy.admin.reports;

import dev.quotaproxy.admin.AdminRoutes;
import dev.quotaproxy.admin.ApiErrors;
import dev.quotaproxy.admin.Caller;
import dev.quotaproxy.config.Parsers;
import dev.quotaproxy.ledger.reports.By;
import dev.quotaproxy.ledger.reports.Granularity;
import dev.quotaproxy.ledger.reports.Groups;
import dev.quotaproxy.ledger.reports.Groups.Group;
import dev.quotaproxy.ledger.reports.ReportQuery;
import dev.quotaproxy.ledger.reports.Reports;
import dev.quotaproxy.ledger.reports.ScopeSet;
import dev.quotaproxy.ledger.reports.Shares;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.openapi.router.RouterBuilder;
import io.vertx.sqlclient.Pool;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Usage reports (JSON, streamed CSV, PDF), groups with shares, the report page at {@code /reports}, and
 * (through {@link ChargebackRoutes}) prices and chargeback statements. Needs only the ledger's Postgres.
 */
public final class ReportRoutes implements AdminRoutes {
  private final Vertx vertx;
  private final Reports reports;
  private final Groups groups;
  private final ChargebackRoutes chargeback;

  public ReportRoutes(Vertx vertx, Pool pool) {
    this.vertx = vertx;
    this.reports = new Reports(pool);
    this.groups = new Groups(pool);
    this.chargeback = new ChargebackRoutes(vertx, pool, reports, groups);
  }

  @Override
  public void operations(RouterBuilder builder) {
    builder.getRoute("getUsageReport").addHandler(this::usageReport);
    builder.getRoute("getReportPdf").addHandler(this::reportPdf);
    builder.getRoute("listGroups").addHandler(this::listGroups);
    builder.getRoute("getGroup").addHandler(this::getGroup);
    builder.getRoute("putGroup").addHandler(this::putGroup);
    builder.getRoute("deleteGroup").addHandler(this::deleteGroup);
    chargeback.operations(builder);
  }

  @Override
  public void plain(Router router) {
    ReportPage.routes(router);
  }

  // ---- Reports --------------------------------------------------------------------------------

  private void usageReport(RoutingContext ctx) {
    ReportFormat format = ReportFormat.negotiate(ctx.queryParams().get("format"), ctx.request().getHeader("Accept"));
    query(ctx).compose(query -> {
      var response = ctx.response().putHeader("Content-Type", format.contentType);
      if (format == ReportFormat.CSV) {
        response.putHeader("Content-Disposition", "attachment; filename=\"" + fileName(query, "csv") + "\"");
      }
      ResponseSink sink = new ResponseSink(response, format, query.by(), format.head(query));
      return reports.stream(query, sink).onSuccess(totals -> sink.end(format.tail(query.by(), totals)));
    }).onFailure(failure -> fail(ctx, failure));
  }

  private Future<ReportQuery> query(RoutingContext ctx) {
    var q = ctx.queryParams();
    return ReportRequest.resolve(new ReportRequest.Parameters(q.get("by"), q.get("granularity"), q.get("from"), q.get("to"),
        q.get("scope"), q.get("group")), Caller.of(ctx), groups, Instant.now());
  }

  /**
   * The PDF: the report by scope and the one by user stream into a bounded model on the event loop,
   * then the document is drawn on a worker. Ordered: one PDF at a time per event loop, so however many
   * are asked for at once, only one is in memory per loop.
   */
  private void reportPdf(RoutingContext ctx) {
    var q = ctx.queryParams();
    Caller caller = Caller.of(ctx);
    var parameters = new ReportRequest.Parameters("scope", q.get("granularity"), q.get("from"), q.get("to"), q.get("scope"),
        q.get("group"));
    ReportRequest.resolve(parameters, caller, groups, Instant.now()).compose(query -> {
      if (query.period().granularity() == Granularity.HOUR && query.period().to().isAfter(query.period().from().plus(MAX_PDF_HOURS))) {
        return Future.failedFuture(Refusal.badRequest("a PDF by hour covers at most " + MAX_PDF_HOURS.toDays()
            + " days; ask for granularity=day"));
      }
      PdfReportModel model = new PdfReportModel();
      ReportQuery byUser = new ReportQuery(By.USER, query.period(), query.scopes(), Map.of());
      ReportPdf.Heading heading = new ReportPdf.Heading(query.period(), coverage(q.get("group"), query, caller), caller.name(),
          Instant.now());
      return reports.stream(query, model.scopeSink())
          .compose(totals -> {
            model.totals = totals;
            return reports.stream(byUser, model.userSink());
          })
          .compose(users -> vertx.executeBlocking(() -> ReportPdf.write(heading, model)))
          .onSuccess(pdf -> ctx.response().putHeader("Content-Type", "application/pdf")
              .putHeader("Content-Disposition", "inline; filename=\"" + fileName(query, "pdf") + "\"")
              .end(Buffer.buffer(pdf)));
    }).onFailure(failure -> fail(ctx, failure));
  }

  private static final Duration MAX_PDF_HOURS = Duration.ofDays(14);

  private static String coverage(String group, ReportQuery query, Caller caller) {
    String scopes = query.scopes().map(set -> String.join(", ", set.roots())).orElse("");
    if (group != null) {
      return "group " + group + " (" + scopes + ")";
    }
    if (query.scopes().isEmpty()) {
      return "all scopes";
    }
    return (caller.admin() ? "scope " : "scopes readable by this token: ") + scopes;
  }

  static String fileName(ReportQuery query, String extension) {
    return "usage-by-" + query.by().label() + "-" + query.period().from().toString().substring(0, 10)
        + "-" + query.period().to().toString().substring(0, 10) + "." + extension;
  }

  // ---- Groups ---------------------------------------------------------------------------------

  private void listGroups(RoutingContext ctx) {
    Caller caller = Caller.of(ctx);
    groups.list().onSuccess(all -> {
      JsonArray visible = new JsonArray();
      for (Group group : all) {
        visibleTo(caller, group).ifPresent(visible::add);
      }
      ctx.json(new JsonObject().put("groups", visible));
    }).onFailure(ctx::fail);
  }

  private void getGroup(RoutingContext ctx) {
    String name = ctx.pathParam("group");
    Caller caller = Caller.of(ctx);
    groups.get(name).onSuccess(found -> {
      if (found.isEmpty()) {
        ApiErrors.notFound(ctx, "no group " + name);
        return;
      }
      visibleTo(caller, found.get()).ifPresentOrElse(ctx::json,
          () -> ApiErrors.forbidden(ctx, "this token may read none of the scopes of group " + name));
    }).onFailure(ctx::fail);
  }

  /** The group as the caller may see it: a viewer sees only its granted part, and no group outside its grants. */
  private static Optional<JsonObject> visibleTo(Caller caller, Group group) {
    if (caller.admin()) {
      return Optional.of(group.toJson());
    }
    ScopeSet readable = group.roots().intersect(ScopeSet.of(caller.grants()));
    if (readable.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(group.toJson().put("scopes", new JsonArray(readable.roots())).put("roots", new JsonArray(readable.roots()))
        .put("shares", ReportFormat.percents(ReportRequest.shares(group, readable))));
  }

  private void putGroup(RoutingContext ctx) {
    Caller caller = Caller.of(ctx);
    if (!caller.admin()) {
      ApiErrors.forbidden(ctx, "changing groups needs an admin token");
      return;
    }
    String name = ctx.pathParam("group");
    JsonObject body = ctx.body().asJsonObject();
    List<String> scopes = new ArrayList<>();
    Map<String, BigDecimal> shares = new TreeMap<>();
    try {
      checkName(name);
      for (Object scope : body.getJsonArray("scopes")) {
        String text = String.valueOf(scope);
        try {
          scopes.add(Parsers.repositoryName().parse(text));
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException("scope '" + text + "' " + e.getMessage());
        }
      }
      body.getJsonObject("shares", new JsonObject()).forEach(share -> shares.put(share.getKey(),
          Shares.parse(share.getKey(), share.getValue())));
      Shares.checkMembers(scopes, shares);
    } catch (IllegalArgumentException e) {
      ApiErrors.badRequest(ctx, e.getMessage());
      return;
    }
    groups.put(name, body.getString("description", ""), scopes, shares, caller.name())
        .onSuccess(put -> ctx.response().setStatusCode(put.created() ? 201 : 200)
            .putHeader("Content-Type", "application/json").end(put.group().toJson().encode()))
        .onFailure(failure -> {
          if (failure instanceof Shares.ExcessException over) {
            Shares.Excess excess = over.excess();
            JsonObject byGroup = new JsonObject();
            excess.byGroup().forEach((group, share) -> byGroup.put(group, Shares.normal(share)));
            ApiErrors.send(ctx, 400, "SHARES_OVER_100", excess.message(), new JsonObject().put("scope", excess.scope())
                .put("sum", Shares.normal(excess.sum())).put("groups", byGroup));
          } else {
            ctx.fail(failure);
          }
        });
  }

  private void deleteGroup(RoutingContext ctx) {
    Caller caller = Caller.of(ctx);
    if (!caller.admin()) {
      ApiErrors.forbidden(ctx, "changing groups needs an admin token");
      return;
    }
    String name = ctx.pathParam("group");
    groups.delete(name, caller.name()).onSuccess(deleted -> {
      if (deleted) {
        ctx.response().setStatusCode(204).end();
      } else {
        ApiErrors.notFound(ctx, "no group " + name);
      }
    }).onFailure(ctx::fail);
  }

  /** The contract checks the pattern too; this says what is wrong in words. */
  static void checkName(String name) {
    if (!Groups.NAME.matcher(name).matches()) {
      throw new IllegalArgumentException("group name '" + name + "' must start with a letter or digit and have at most 64"
          + " letters, digits, '.', '_' or '-'");
    }
  }

  private static void fail(RoutingContext ctx, Throwable failure) {
    if (ctx.response().closed()) {
      return; // the client left mid-report: nobody to tell
    }
    if (!ctx.response().headWritten()) {
      ctx.response().headers().remove("Content-Disposition"); // the report's, not the error's
    }
    if (failure instanceof Refusal refusal) {
      ApiErrors.send(ctx, refusal.status, refusal.code, refusal.getMessage());
    } else {
      ctx.fail(failure);
    }
  }
}
