package dev.quotaproxy.ledger.events;

import dev.quotaproxy.config.QuotaEventType;
import dev.quotaproxy.ledger.events.WarningCrossings.Crossing;
import dev.quotaproxy.ledger.events.WarningCrossings.UsageChange;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes quota events into the outbox ({@code quota_events}) inside the transaction that applies the ledger events
 * they come from, so that an event is recorded exactly when its cause is, once, and never on the request path: a
 * refused push ({@code rejection}) is a QUOTA_EXCEEDED, a refused pull an EGRESS_LIMITED (once per scope and
 * egress window), and a soft limit crossed upward by the batch's storage or count changes a QUOTA_WARNING.
 *
 * <p>A push refused because the registry is read-only is no QUOTA_EXCEEDED: READ_ONLY says it once, instead of an
 * event per refused push (see {@link SystemSwitch}).
 */
public final class QuotaEventRecorder {
  /** The reasons {@code rejection} events carry (QuotaPolicy in the proxy module). */
  static final String READ_ONLY_REASON = "read_only";
  static final String EGRESS_REASON = "egress_limit";
  /** Redis's window when a scope's row has none (its default, see common.lua's limits_of). */
  static final long DEFAULT_EGRESS_WINDOW_SECONDS = 3600;

  private QuotaEventRecorder() {}

  /** A push or pull refused by a quota, as its {@code rejection} ledger event recorded it. */
  public record Refusal(String ledgerEventId, Instant at, String repository, String user, String scope, String resource,
      long requested, long usage, long limit, String reason) {}

  /** One row of {@code quota_events} to insert. */
  record Row(QuotaEventType type, String scope, Instant at, JsonObject data, String dedupeKey) {}

  static final String INSERT = """
      insert into quota_events (type, scope, occurred_at, payload, dedupe_key)
      select type, scope, occurred_at, payload::jsonb, dedupe_key
      from unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[])
        as given (type, scope, occurred_at, payload, dedupe_key)
      on conflict (dedupe_key) do nothing""";

  /** QUOTA_EXCEEDED and EGRESS_LIMITED events for the batch's refusals. */
  public static Future<Void> refusals(SqlConnection connection, List<Refusal> refusals) {
    List<Refusal> counted = refusals.stream().filter(r -> !READ_ONLY_REASON.equals(r.reason())).toList();
    if (counted.isEmpty()) {
      return Future.succeededFuture();
    }
    List<String> egressScopes = counted.stream().filter(QuotaEventRecorder::egress).map(Refusal::scope).distinct().toList();
    Future<Map<String, Long>> windows = egressScopes.isEmpty()
        ? Future.succeededFuture(Map.of())
        : connection.preparedQuery("select scope, egress_window_seconds from scope_limits where scope = any($1::text[])")
            .execute(Tuple.of(egressScopes.toArray(String[]::new))).map(rows -> {
              Map<String, Long> byScope = new HashMap<>();
              rows.forEach(row -> byScope.put(row.getString("scope"), row.getLong("egress_window_seconds")));
              return byScope;
            });
    return windows.compose(byScope -> insert(connection, refusalRows(counted, byScope)));
  }

  static boolean egress(Refusal refusal) {
    return EGRESS_REASON.equals(refusal.reason()) || "egress_bytes".equals(refusal.resource());
  }

  /** Pure: the rows for refusals; an egress refusal's key is its scope's window, so a window has one event. */
  static List<Row> refusalRows(List<Refusal> refusals, Map<String, Long> egressWindowSeconds) {
    List<Row> rows = new ArrayList<>();
    for (Refusal refusal : refusals) {
      if (egress(refusal)) {
        long seconds = Math.max(1, egressWindowSeconds.getOrDefault(refusal.scope(), DEFAULT_EGRESS_WINDOW_SECONDS));
        long windowStart = Math.floorDiv(refusal.at().getEpochSecond(), seconds) * seconds;
        JsonObject data = new JsonObject().put("repository", refusal.repository()).put("user", refusal.user())
            .put("used", refusal.usage()).put("limit", refusal.limit()).put("window_seconds", seconds)
            .put("window_start", Instant.ofEpochSecond(windowStart).toString())
            .put("window_end", Instant.ofEpochSecond(windowStart + seconds).toString());
        rows.add(new Row(QuotaEventType.EGRESS_LIMITED, refusal.scope(), refusal.at(), data,
            "egress:" + refusal.scope() + ":" + windowStart));
      } else {
        JsonObject data = new JsonObject().put("repository", refusal.repository()).put("user", refusal.user())
            .put("resource", refusal.resource()).put("requested", refusal.requested()).put("usage", refusal.usage())
            .put("limit", refusal.limit()).put("reason", refusal.reason());
        rows.add(new Row(QuotaEventType.QUOTA_EXCEEDED, refusal.scope(), refusal.at(), data, "refusal:" + refusal.ledgerEventId()));
      }
    }
    return rows;
  }

  /** The resources a warning is about, as refusals name them. */
  public static final String STORAGE = "storage_bytes";
  public static final String REPOSITORIES = "repositories";
  public static final String MANIFESTS = "manifests";

  /** The soft (and hard) limits of one resource of the scopes that have a soft limit for it. */
  public record SoftLimits(Map<String, Long> soft, Map<String, Long> hard) {
    public static final SoftLimits NONE = new SoftLimits(Map.of(), Map.of());
  }

  /** The count soft limits of scopes: repositories and manifests. */
  public record CountSoftLimits(SoftLimits repositories, SoftLimits manifests) {
    public static final CountSoftLimits NONE = new CountSoftLimits(SoftLimits.NONE, SoftLimits.NONE);
  }

  /**
   * The soft limits of {@code scopes}. Asked for beside the lock on the scopes' usage rows (one round trip for both):
   * only when some change charges, since only a charge can cross a limit upward.
   */
  public static Future<SoftLimits> softLimits(SqlConnection connection, String[] scopes, List<UsageChange> changes) {
    if (changes.stream().noneMatch(change -> change.delta() > 0)) {
      return Future.succeededFuture(SoftLimits.NONE);
    }
    return connection.preparedQuery(
        "select scope, storage_soft, storage_hard from scope_limits where scope = any($1::text[]) and storage_soft >= 0")
        .execute(Tuple.of(scopes))
        .map(rows -> {
          Map<String, Long> soft = new HashMap<>();
          Map<String, Long> hard = new HashMap<>();
          rows.forEach(row -> {
            soft.put(row.getString("scope"), row.getLong("storage_soft"));
            hard.put(row.getString("scope"), row.getLong("storage_hard"));
          });
          return soft.isEmpty() ? SoftLimits.NONE : new SoftLimits(soft, hard);
        });
  }

  static final String COUNT_SOFT_LIMITS = """
      select scope, repositories_soft, repositories_hard, manifests_soft, manifests_hard from scope_limits
      where scope = any($1::text[]) and (repositories_soft >= 0 or manifests_soft >= 0)""";

  /** The count soft limits of {@code scopes}, beside the lock on their count rows: only when some change adds one. */
  public static Future<CountSoftLimits> countSoftLimits(SqlConnection connection, String[] scopes, boolean someAdd) {
    if (!someAdd) {
      return Future.succeededFuture(CountSoftLimits.NONE);
    }
    return connection.preparedQuery(COUNT_SOFT_LIMITS).execute(Tuple.of(scopes)).map(rows -> {
      Map<String, Long> repositoriesSoft = new HashMap<>();
      Map<String, Long> repositoriesHard = new HashMap<>();
      Map<String, Long> manifestsSoft = new HashMap<>();
      Map<String, Long> manifestsHard = new HashMap<>();
      rows.forEach(row -> {
        String scope = row.getString("scope");
        if (row.getLong("repositories_soft") >= 0) {
          repositoriesSoft.put(scope, row.getLong("repositories_soft"));
          repositoriesHard.put(scope, row.getLong("repositories_hard"));
        }
        if (row.getLong("manifests_soft") >= 0) {
          manifestsSoft.put(scope, row.getLong("manifests_soft"));
          manifestsHard.put(scope, row.getLong("manifests_hard"));
        }
      });
      return new CountSoftLimits(new SoftLimits(repositoriesSoft, repositoriesHard), new SoftLimits(manifestsSoft, manifestsHard));
    });
  }

  /**
   * QUOTA_WARNING events for the storage soft limits the changes cross upward, replayed over {@code before}, the
   * usage the scopes had when the transaction locked their rows.
   */
  public static Future<Void> crossings(SqlConnection connection, Map<String, Long> before, List<UsageChange> changes,
      SoftLimits limits) {
    return insert(connection, warningRows(STORAGE, before, changes, limits));
  }

  /** QUOTA_WARNING events for the count soft limits the changes cross upward, as {@link #crossings} for storage. */
  public static Future<Void> countCrossings(SqlConnection connection, Map<String, Long> repositoriesBefore,
      List<UsageChange> repositoryChanges, Map<String, Long> manifestsBefore, List<UsageChange> manifestChanges,
      CountSoftLimits limits) {
    List<Row> rows = new ArrayList<>(warningRows(REPOSITORIES, repositoriesBefore, repositoryChanges, limits.repositories()));
    rows.addAll(warningRows(MANIFESTS, manifestsBefore, manifestChanges, limits.manifests()));
    return insert(connection, rows);
  }

  /**
   * Pure: the warnings of one resource. A storage warning keeps the key it always had; a count's names its
   * resource, so a scope's storage and its counts crossing at one instant are an event each.
   */
  static List<Row> warningRows(String resource, Map<String, Long> before, List<UsageChange> changes, SoftLimits limits) {
    if (limits.soft().isEmpty()) {
      return List.of();
    }
    List<Row> rows = new ArrayList<>();
    for (Crossing crossing : WarningCrossings.find(before, changes, limits.soft())) {
      long hardLimit = limits.hard().getOrDefault(crossing.scope(), -1L);
      JsonObject data = new JsonObject().put("resource", resource).put("usage", crossing.usage())
          .put("usage_before", crossing.usageBefore()).put("soft_limit", crossing.softLimit()).put("hard_limit", hardLimit);
      if (hardLimit > 0) {
        data.put("percent_of_hard", Math.round(crossing.usage() * 1000.0 / hardLimit) / 10.0);
      }
      String key = (STORAGE.equals(resource) ? "warning:" : "warning:" + resource + ":") + crossing.scope() + ":"
          + crossing.at().toEpochMilli() + ":" + crossing.usage();
      rows.add(new Row(QuotaEventType.QUOTA_WARNING, crossing.scope(), crossing.at(), data, key));
    }
    return rows;
  }

  static Future<Void> insert(SqlClient connection, List<Row> rows) {
    if (rows.isEmpty()) {
      return Future.succeededFuture();
    }
    return connection.preparedQuery(INSERT).execute(Tuple.of(
        rows.stream().map(row -> row.type().name()).toArray(String[]::new),
        rows.stream().map(Row::scope).toArray(String[]::new),
        rows.stream().map(row -> OffsetDateTime.ofInstant(row.at(), ZoneOffset.UTC)).toArray(OffsetDateTime[]::new),
        rows.stream().map(row -> row.data().encode()).toArray(String[]::new),
        rows.stream().map(Row::dedupeKey).toArray(String[]::new))).mapEmpty();
  }
}
