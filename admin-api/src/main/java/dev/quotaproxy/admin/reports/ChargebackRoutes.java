package dev.quotaproxy.admin.reports;

import dev.quotaproxy.admin.ApiErrors;
import dev.quotaproxy.admin.Caller;
import dev.quotaproxy.ledger.chargeback.Chargeback;
import dev.quotaproxy.ledger.chargeback.Item;
import dev.quotaproxy.ledger.chargeback.Money;
import dev.quotaproxy.ledger.chargeback.PriceList;
import dev.quotaproxy.ledger.chargeback.PriceVersion;
import dev.quotaproxy.ledger.chargeback.Prices;
import dev.quotaproxy.ledger.reports.Groups;
import dev.quotaproxy.ledger.reports.Period;
import dev.quotaproxy.ledger.reports.Reports;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.openapi.router.RouterBuilder;
import io.vertx.sqlclient.Pool;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.LocalDate;
import java.time.YearMonth;
import java.time.format.DateTimeParseException;
import java.util.EnumMap;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The price list ({@code /api/v1/prices}) and chargeback statements ({@code /api/v1/reports/chargeback}):
 * a month of usage by scope or group, priced by the versions in effect. Mounted by {@link ReportRoutes},
 * whose groups and report query it shares.
 */
final class ChargebackRoutes {
  private static final Pattern CURRENCY = Pattern.compile("[A-Z]{3}");

  private final Vertx vertx;
  private final Groups groups;
  private final Prices prices;
  private final Chargeback chargeback;

  ChargebackRoutes(Vertx vertx, Pool pool, Reports reports, Groups groups) {
    this.vertx = vertx;
    this.groups = groups;
    this.prices = new Prices(pool);
    this.chargeback = new Chargeback(prices, reports);
  }

  void operations(RouterBuilder builder) {
    builder.getRoute("getChargeback").addHandler(this::statement);
    builder.getRoute("listPrices").addHandler(this::listPrices);
    builder.getRoute("putPrices").addHandler(this::putPrices);
    builder.getRoute("deletePrices").addHandler(this::deletePrices);
  }

  // ---- Statements ------------------------------------------------------------------------------

  private void statement(RoutingContext ctx) {
    var q = ctx.queryParams();
    String format = q.get("format") == null ? "json" : q.get("format");
    Caller caller = Caller.of(ctx);
    YearMonth month;
    Period period;
    try {
      month = month(q.get("month"));
      period = Chargeback.period(month, Instant.now());
      if (q.get("by") != null && !"scope".equals(q.get("by")) && !"group".equals(q.get("by"))) {
        throw new IllegalArgumentException("a chargeback statement is by scope or group, not '" + q.get("by") + "'");
      }
    } catch (IllegalArgumentException e) {
      ApiErrors.badRequest(ctx, e.getMessage());
      return;
    }
    var parameters = new ReportRequest.Parameters(q.get("by") == null ? "scope" : q.get("by"), "hour",
        period.from().toString(), period.to().toString(), q.get("scope"), q.get("group"));
    ReportRequest.resolve(parameters, caller, groups, Instant.now())
        .compose(query -> chargeback.statement(month, query))
        .onSuccess(statement -> {
          if ("pdf".equals(format)) {
            vertx.executeBlocking(() -> ReportPdf.statement(statement, caller.name(), Instant.now()))
                .onSuccess(pdf -> ctx.response().putHeader("Content-Type", "application/pdf")
                    .putHeader("Content-Disposition", "inline; filename=\"" + StatementFormat.fileName(statement, "pdf") + "\"")
                    .end(io.vertx.core.buffer.Buffer.buffer(pdf)))
                .onFailure(ctx::fail);
          } else if ("csv".equals(format)) {
            ctx.response().putHeader("Content-Type", ReportFormat.CSV.contentType)
                .putHeader("Content-Disposition", "attachment; filename=\"" + StatementFormat.fileName(statement, "csv") + "\"")
                .end(StatementFormat.csv(statement));
          } else {
            ctx.json(StatementFormat.json(statement));
          }
        })
        .onFailure(failure -> {
          if (failure instanceof Refusal refusal) {
            ApiErrors.send(ctx, refusal.status, refusal.code, refusal.getMessage());
          } else if (failure instanceof PriceList.NoPriceException none) {
            ApiErrors.send(ctx, 400, "NO_PRICES", none.getMessage());
          } else {
            ctx.fail(failure);
          }
        });
  }

  static YearMonth month(String text) {
    if (text == null) {
      throw new IllegalArgumentException("month is required: month=2026-11");
    }
    try {
      return YearMonth.parse(text);
    } catch (DateTimeParseException e) {
      throw new IllegalArgumentException("month must be a year and month like 2026-11, not '" + text + "'");
    }
  }

  // ---- Prices ----------------------------------------------------------------------------------

  private void listPrices(RoutingContext ctx) {
    prices.list().onSuccess(versions -> {
      JsonArray list = new JsonArray();
      versions.forEach(version -> list.add(version.toJson()));
      ctx.json(new JsonObject().put("versions", list));
    }).onFailure(ctx::fail);
  }

  private void putPrices(RoutingContext ctx) {
    Caller caller = Caller.of(ctx);
    if (!caller.admin()) {
      ApiErrors.forbidden(ctx, "changing prices needs an admin token");
      return;
    }
    JsonObject body = ctx.body().asJsonObject();
    LocalDate effectiveFrom;
    String currency = body.getString("currency");
    Map<Item, BigDecimal> given = new EnumMap<>(Item.class);
    try {
      effectiveFrom = date(ctx.pathParam("effective_from"));
      if (currency == null || !CURRENCY.matcher(currency).matches()) {
        throw new IllegalArgumentException("currency must be a three-letter ISO 4217 code like EUR, not '" + currency + "'");
      }
      for (Item item : Item.values()) {
        given.put(item, Money.price(PriceVersion.field(item), body.getValue(PriceVersion.field(item))));
      }
    } catch (IllegalArgumentException e) {
      ApiErrors.badRequest(ctx, e.getMessage());
      return;
    }
    prices.put(effectiveFrom, currency, given, caller.name())
        .onSuccess(put -> ctx.response().setStatusCode(put.created() ? 201 : 200).putHeader("Content-Type", "application/json")
            .end(put.version().toJson().encode()))
        .onFailure(failure -> {
          if (failure instanceof Prices.CurrencyException other) {
            ApiErrors.send(ctx, 400, "CURRENCY", other.getMessage());
          } else {
            ctx.fail(failure);
          }
        });
  }

  private void deletePrices(RoutingContext ctx) {
    Caller caller = Caller.of(ctx);
    if (!caller.admin()) {
      ApiErrors.forbidden(ctx, "changing prices needs an admin token");
      return;
    }
    LocalDate effectiveFrom;
    try {
      effectiveFrom = date(ctx.pathParam("effective_from"));
    } catch (IllegalArgumentException e) {
      ApiErrors.badRequest(ctx, e.getMessage());
      return;
    }
    prices.delete(effectiveFrom, caller.name()).onSuccess(deleted -> {
      if (deleted) {
        ctx.response().setStatusCode(204).end();
      } else {
        ApiErrors.notFound(ctx, "no price version takes effect on " + effectiveFrom);
      }
    }).onFailure(ctx::fail);
  }

  private static LocalDate date(String text) {
    try {
      return LocalDate.parse(text);
    } catch (DateTimeParseException e) {
      throw new IllegalArgumentException("effective_from must be a date like 2026-11-15, not '" + text + "'");
    }
  }
}
