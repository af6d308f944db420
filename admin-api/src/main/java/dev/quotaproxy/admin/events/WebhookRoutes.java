package dev.quotaproxy.admin.events;

import dev.quotaproxy.admin.AdminRoutes;
import dev.quotaproxy.admin.ApiErrors;
import dev.quotaproxy.admin.Caller;
import dev.quotaproxy.ledger.events.DeliveryLog;
import dev.quotaproxy.ledger.events.DeliveryLog.Query;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.openapi.router.RouterBuilder;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;

/**
 * The webhook delivery log: {@code listWebhookDeliveries}. Admin only, as the audit log: it spans every scope,
 * and its URLs and errors describe the installation, which no viewer grant covers.
 */
public final class WebhookRoutes implements AdminRoutes {
  private final DeliveryLog log;

  public WebhookRoutes(DeliveryLog log) {
    this.log = log;
  }

  @Override
  public void operations(RouterBuilder builder) {
    builder.getRoute("listWebhookDeliveries").addHandler(this::list);
  }

  private void list(RoutingContext ctx) {
    Caller caller = Caller.of(ctx);
    if (!caller.admin()) {
      ApiErrors.forbidden(ctx,
          "reading the webhook delivery log needs an admin token; " + caller.name() + " is a viewer (it spans every scope)");
      return;
    }
    Instant from;
    Instant to;
    try {
      from = instant(query(ctx, "from", null));
      to = instant(query(ctx, "to", null));
    } catch (DateTimeParseException e) {
      ApiErrors.badRequest(ctx, "from and to must be date-times like 2026-01-31T00:00:00Z: " + e.getParsedString());
      return;
    }
    int offset = Integer.parseInt(query(ctx, "offset", "0"));
    int limit = Integer.parseInt(query(ctx, "limit", "100"));
    log.page(new Query(query(ctx, "state", null), query(ctx, "type", null), query(ctx, "endpoint", null), query(ctx, "scope", null),
        from, to, offset, limit)).onSuccess(page -> {
          JsonArray deliveries = new JsonArray();
          page.deliveries().forEach(d -> {
            JsonArray attempts = new JsonArray();
            d.attemptLog().forEach(a -> attempts.add(new JsonObject().put("attempt", a.attempt()).put("at", a.at().toString())
                .put("status", a.status()).put("error", a.error()).put("duration_ms", a.durationMillis())));
            deliveries.add(new JsonObject().put("id", d.id()).put("event_id", d.eventId()).put("type", d.type())
                .put("scope", d.scope()).put("occurred_at", d.occurredAt().toString()).put("data", d.data())
                .put("endpoint", d.endpoint()).put("url", d.url()).put("state", d.state()).put("attempts", d.attempts())
                .put("created_at", d.createdAt().toString())
                .put("next_attempt_at", "pending".equals(d.state()) ? d.nextAttemptAt().toString() : null)
                .put("finished_at", d.finishedAt() == null ? null : d.finishedAt().toString())
                .put("last_status", d.lastStatus()).put("last_error", d.lastError()).put("attempt_log", attempts));
          });
          ctx.json(new JsonObject().put("total", page.total()).put("offset", offset).put("limit", limit).put("deliveries", deliveries));
        }).onFailure(ctx::fail);
  }

  private static String query(RoutingContext ctx, String name, String fallback) {
    var values = ctx.queryParam(name);
    return values.isEmpty() ? fallback : values.get(0);
  }

  private static Instant instant(String text) {
    return text == null ? null : OffsetDateTime.parse(text).toInstant();
  }
}
