package dev.quotaproxy.admin.limits;

import dev.quotaproxy.admin.AdminRoutes;
import dev.quotaproxy.admin.ApiErrors;
import dev.quotaproxy.admin.Caller;
import dev.quotaproxy.admin.QuotaControl;
import dev.quotaproxy.ledger.limits.LimitsLedger;
import dev.quotaproxy.config.SystemSettings;
import dev.quotaproxy.ledger.limits.LimitsLedger.SettingsRecord;
import dev.quotaproxy.ledger.limits.Overcommit.OvercommitException;
import dev.quotaproxy.metering.SystemUsage;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.openapi.router.RouterBuilder;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * System settings, reconciliation on demand and the audit log: {@code getSystem}, {@code putSystem},
 * {@code reconcileNow}, {@code listAudit}. All admin only: system usage and the audit log span every
 * scope, which no viewer grant covers.
 */
public final class SystemRoutes implements AdminRoutes {
  private static final Logger LOG = LoggerFactory.getLogger(SystemRoutes.class);

  private final LimitsLedger ledger;
  private final QuotaControl control;

  public SystemRoutes(LimitsLedger ledger, QuotaControl control) {
    this.ledger = ledger;
    this.control = control;
  }

  @Override
  public void operations(RouterBuilder builder) {
    builder.getRoute("getSystem").addHandler(ctx -> adminOnly(ctx, "reading system settings", this::getSystem));
    builder.getRoute("putSystem").addHandler(ctx -> adminOnly(ctx, "changing system settings", this::putSystem));
    builder.getRoute("reconcileNow").addHandler(ctx -> adminOnly(ctx, "reconciling", this::reconcileNow));
    builder.getRoute("listAudit").addHandler(ctx -> adminOnly(ctx, "reading the audit log", this::listAudit));
  }

  private static void adminOnly(RoutingContext ctx, String what, io.vertx.core.Handler<RoutingContext> handler) {
    Caller caller = Caller.of(ctx);
    if (!caller.admin()) {
      ApiErrors.forbidden(ctx, what + " needs an admin token; " + caller.name() + " is a viewer (it spans every scope)");
      return;
    }
    handler.handle(ctx);
  }

  private void getSystem(RoutingContext ctx) {
    ledger.settings().onSuccess(record -> answer(ctx, record, null)).onFailure(ctx::fail);
  }

  private void putSystem(RoutingContext ctx) {
    JsonObject body = ctx.body().asJsonObject();
    // Parsed inside the transaction, over the settings it locked, so that fields left out keep their current values.
    AtomicReference<IllegalArgumentException> invalid = new AtomicReference<>();
    ledger.updateSettings(current -> {
      try {
        return LimitsInput.system(current, body);
      } catch (IllegalArgumentException e) {
        invalid.set(e);
        throw e;
      }
    }, Caller.of(ctx).name()).onSuccess(change -> {
      SettingsRecord after = change.after();
      control.applySystem(after.settings(), after.revision()).onComplete(applied -> {
        if (applied.failed()) {
          LOG.warn("system settings recorded but not yet in the quota store (the sync retries): {}", applied.cause().toString());
        }
        answer(ctx, after, applied.succeeded());
      });
    }).onFailure(e -> {
      if (invalid.get() != null) {
        ApiErrors.badRequest(ctx, invalid.get().getMessage());
      } else if (e instanceof OvercommitException over) {
        ApiErrors.send(ctx, 400, "OVERCOMMIT", over.getMessage(), new JsonObject().put("sum", over.refusal().sum())
            .put("hard_storage", over.refusal().hardStorage()).put("requested", over.refusal().requested()));
      } else {
        ctx.fail(e);
      }
    });
  }

  /** The settings with system usage and the read-only state it gives; usage null when Redis cannot be asked. */
  private void answer(RoutingContext ctx, SettingsRecord record, Boolean inForce) {
    control.systemUsage().map(usage -> (SystemUsage) usage).otherwiseEmpty().onComplete(read -> {
      SystemSettings settings = record.settings();
      SystemUsage usage = read.result();
      JsonObject readOnly = new JsonObject().put("forced", settings.readOnlyForced());
      JsonObject body = new JsonObject()
          .put("hard_storage", settings.hardStorage())
          .put("write_ratio", LimitsInput.percent(settings.writeRatio()))
          .put("allow_overcommit", settings.allowOvercommit())
          .put("retention_days", settings.retentionDays())
          .put("read_only", readOnly)
          .put("updated_at", record.updatedAt().toString())
          .put("updated_by", record.updatedBy());
      if (usage == null) {
        body.put("usage", null);
        readOnly.put("computed", null).put("in_force", settings.readOnlyForced() ? true : null);
      } else {
        boolean computed = SystemState.readOnlyByUsage(settings, usage.used());
        body.put("usage", new JsonObject().put("used", usage.used()).put("reserved", usage.reserved())
            .put("ratio", SystemState.ratio(settings, usage.used())));
        readOnly.put("computed", computed).put("in_force", computed || settings.readOnlyForced());
      }
      if (inForce != null) {
        body.put("in_force", inForce);
      }
      ctx.json(body);
    });
  }

  private void reconcileNow(RoutingContext ctx) {
    control.reconcileNow().onSuccess(ctx::json).onFailure(e -> {
      LOG.warn("reconciliation on demand failed: {}", e.toString());
      ApiErrors.send(ctx, 503, "RECONCILIATION_FAILED", "the reconciliation did not finish: " + e.getMessage()
          + " (what it committed is kept; run it again to go on)");
    });
  }

  private void listAudit(RoutingContext ctx) {
    Instant from;
    Instant to;
    try {
      from = instant(LimitsRoutes.query(ctx, "from", null));
      to = instant(LimitsRoutes.query(ctx, "to", null));
    } catch (DateTimeParseException e) {
      ApiErrors.badRequest(ctx, "from and to must be date-times like 2026-01-31T00:00:00Z: " + e.getParsedString());
      return;
    }
    int offset = Integer.parseInt(LimitsRoutes.query(ctx, "offset", "0"));
    int limit = Integer.parseInt(LimitsRoutes.query(ctx, "limit", "100"));
    ledger.audit(from, to, offset, limit).onSuccess(page -> {
      JsonArray entries = new JsonArray();
      page.entries().forEach(entry -> entries.add(new JsonObject().put("id", entry.id()).put("at", entry.at().toString())
          .put("actor", entry.actor()).put("action", entry.action()).put("subject", entry.subject())
          .put("before", entry.before()).put("after", entry.after())));
      ctx.json(new JsonObject().put("total", page.total()).put("offset", offset).put("limit", limit).put("entries", entries));
    }).onFailure(ctx::fail);
  }

  private static Instant instant(String text) {
    return text == null ? null : OffsetDateTime.parse(text).toInstant();
  }
}
