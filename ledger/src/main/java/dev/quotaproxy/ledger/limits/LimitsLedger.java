package dev.quotaproxy.ledger.limits;

import dev.quotaproxy.ledger.limits.ConfigurationSeed.Recorded;
import dev.quotaproxy.ledger.limits.Overcommit.OvercommitException;
import dev.quotaproxy.config.ByteSize;
import dev.quotaproxy.config.Limits;
import dev.quotaproxy.config.SystemSettings;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.UnaryOperator;

/**
 * Limits and system settings in Postgres: the record every Redis is (re)filled from, and the audit log
 * of their changes. Every change is one transaction that writes the row and its audit entry together,
 * after taking the system settings row's lock: changes are serialized, so the overcommit check reads
 * sums no concurrent change can invalidate.
 *
 * <p>Each row's {@code updated_at} is the clock at the moment the change held the lock, so it orders
 * the changes of a row as they were committed; {@link #revision} turns it into the number Redis keeps
 * beside the values to never let an older copy overwrite a newer one.
 */
public final class LimitsLedger {
  private final Pool pool;

  public LimitsLedger(Pool pool) {
    this.pool = pool;
  }

  /** A scope's recorded limits, when they were written and by whom (an admin token's name, or {@code configuration}). */
  public record ScopeRecord(String scope, Limits limits, Instant updatedAt, String updatedBy) {
    public long revision() {
      return LimitsLedger.revision(updatedAt);
    }
  }

  /** The recorded system settings; {@code updatedBy} is {@code default} when no row was ever written. */
  public record SettingsRecord(SystemSettings settings, Instant updatedAt, String updatedBy) {
    public long revision() {
      return LimitsLedger.revision(updatedAt);
    }
  }

  /** A change as committed: {@code before} is null when there was nothing. */
  public record Change<T>(T before, T after) {}

  public record AuditEntry(long id, Instant at, String actor, String action, String subject, JsonObject before, JsonObject after) {}

  public record AuditPage(long total, List<AuditEntry> entries) {}

  /** Microseconds since the epoch: Postgres's timestamp precision. */
  public static long revision(Instant at) {
    return at.getEpochSecond() * 1_000_000 + at.getNano() / 1_000;
  }

  public Future<Optional<ScopeRecord>> limits(String scope) {
    return pool.preparedQuery(SELECT_LIMITS + " where scope = $1").execute(Tuple.of(scope))
        .map(rows -> rows.size() == 0 ? Optional.empty() : Optional.of(scopeRecord(rows.iterator().next())));
  }

  /** Every recorded row, unlimited ones (deleted through the API, or dropped from the file) included. */
  public Future<List<ScopeRecord>> allLimits() {
    return pool.query(SELECT_LIMITS + " order by scope").execute().map(rows -> {
      List<ScopeRecord> all = new ArrayList<>();
      rows.forEach(row -> all.add(scopeRecord(row)));
      return all;
    });
  }

  public Future<SettingsRecord> settings() {
    return pool.query(SELECT_SETTINGS).execute().map(rows -> rows.size() == 0
        ? new SettingsRecord(SystemSettings.DEFAULTS, Instant.EPOCH, "default")
        : settingsRecord(rows.iterator().next()));
  }

  /**
   * Sets a scope's limits. Fails with {@link OvercommitException} when a top-level hard limit would make
   * the top-level sum exceed the system's hard storage (and overcommit is not allowed).
   */
  public Future<Change<ScopeRecord>> putLimits(String scope, Limits limits, String actor) {
    return pool.withTransaction(connection -> lockSettings(connection).compose(system -> before(connection, scope)
        .compose(before -> overcommitCheck(connection, system, scope, before, limits)
            .compose(checked -> upsert(connection, scope, limits, actor))
            .compose(after -> audit(connection, actor, "limits.put", scope, before == null ? null : LimitsJson.of(before.limits()),
                LimitsJson.of(after.limits())).map(new Change<>(before, after))))));
  }

  /**
   * Removes a scope's limits: the row stays, unlimited and written by {@code actor}, so a limit the
   * configuration file gives is not brought back at the next start. Empty when the scope had no limits.
   */
  public Future<Optional<Change<ScopeRecord>>> removeLimits(String scope, String actor) {
    return pool.withTransaction(connection -> lockSettings(connection).compose(system -> before(connection, scope)
        .compose(before -> {
          if (before == null || before.limits().unlimited()) {
            return Future.succeededFuture(Optional.<Change<ScopeRecord>>empty());
          }
          return upsert(connection, scope, Limits.UNLIMITED, actor)
              .compose(
                  after -> audit(connection, actor, "limits.delete", scope, LimitsJson.of(before.limits()), LimitsJson.of(after.limits()))
                      .map(v -> Optional.of(new Change<>(before, after))));
        })));
  }

  /**
   * Changes the system settings. Fails with {@link OvercommitException} when the result would leave the
   * top-level hard limits over the hard storage where they were not (or lower it further).
   */
  public Future<Change<SettingsRecord>> updateSettings(UnaryOperator<SystemSettings> change, String actor) {
    return pool.withTransaction(connection -> lockSettings(connection).compose(before -> {
      SystemSettings after = change.apply(before.settings());
      return topLevelSum(connection, null).compose(sum -> {
        Optional<Overcommit.Refusal> refused = Overcommit.ofSettings(before.settings(), after, sum);
        if (refused.isPresent()) {
          return Future.failedFuture(new OvercommitException(refused.get(), "hard_storage " + ByteSize.format(after.hardStorage())
              + " (" + after.hardStorage() + " bytes) is less than the top-level hard limits add up to, "
              + ByteSize.format(sum) + " (" + sum + " bytes); lower those limits first, or set allow_overcommit"));
        }
        return writeSettings(connection, after, actor)
            .compose(written -> audit(connection, actor, "system.put", "system", LimitsJson.of(before.settings()), LimitsJson.of(after))
                .map(new Change<>(before, written)));
      });
    }));
  }

  /**
   * Records the configuration file's limits and settings, leaving rows an admin wrote through the API as
   * they are (see {@link ConfigurationSeed}); what changed is in the audit log under {@code configuration}.
   */
  public Future<Void> seedConfiguration(Map<String, Limits> scopes, SystemSettings system) {
    return pool.withTransaction(connection -> lockSettings(connection).compose(settings -> connection
        .preparedQuery(SELECT_LIMITS).execute().compose(rows -> {
          Map<String, Recorded> recorded = new LinkedHashMap<>();
          rows.forEach(row -> {
            ScopeRecord record = scopeRecord(row);
            recorded.put(record.scope(), new Recorded(record.limits(), record.updatedBy()));
          });
          Future<Void> done = Future.succeededFuture();
          for (ConfigurationSeed.Write write : ConfigurationSeed.scopes(recorded, scopes)) {
            done = done.compose(v -> upsert(connection, write.scope(), write.after(), ConfigurationSeed.ACTOR))
                .compose(after -> audit(connection, ConfigurationSeed.ACTOR, "limits.configure", write.scope(),
                    write.before() == null ? null : LimitsJson.of(write.before()), LimitsJson.of(write.after())));
          }
          boolean hadRow = !"default".equals(settings.updatedBy());
          SystemSettings after = ConfigurationSeed.system(hadRow ? settings.settings() : null, settings.updatedBy(), system);
          if (after != null) {
            done = done.compose(v -> writeSettings(connection, after, ConfigurationSeed.ACTOR))
                .compose(written -> audit(connection, ConfigurationSeed.ACTOR, "system.configure", "system",
                    hadRow ? LimitsJson.of(settings.settings()) : null, LimitsJson.of(after)));
          }
          return done;
        })));
  }

  /** Audit entries between {@code from} (inclusive) and {@code to} (exclusive), either open, newest first. */
  public Future<AuditPage> audit(Instant from, Instant to, int offset, int limit) {
    Tuple range = Tuple.of(from == null ? null : utc(from), to == null ? null : utc(to));
    String where = " where ($1::timestamptz is null or at >= $1) and ($2::timestamptz is null or at < $2)";
    return pool.preparedQuery("select count(*) from audit_log" + where).execute(range).compose(count -> pool
        .preparedQuery("select id, at, actor, action, subject, before, after from audit_log" + where
            + " order by at desc, id desc offset $3 limit $4")
        .execute(Tuple.of(range.getValue(0), range.getValue(1), offset, limit))
        .map(rows -> {
          List<AuditEntry> entries = new ArrayList<>();
          rows.forEach(row -> entries.add(new AuditEntry(row.getLong("id"), row.getOffsetDateTime("at").toInstant(),
              row.getString("actor"), row.getString("action"), row.getString("subject"), json(row.getValue("before")),
              json(row.getValue("after")))));
          return new AuditPage(count.iterator().next().getLong(0), entries);
        }));
  }

  // ---- inside a transaction -----------------------------------------------------------------

  private static final String SELECT_LIMITS = "select scope, storage_hard, storage_soft, egress, egress_window_seconds, repositories_hard, repositories_soft, manifests_hard, manifests_soft, updated_at, updated_by"
      + " from scope_limits";
  private static final String SELECT_SETTINGS = "select hard_storage, write_ratio, read_only_forced, allow_overcommit, retention_days,"
      + " updated_at, updated_by from system_settings where id = 1";

  /** Takes the settings row's lock (making the row if there is none): every change holds it until commit. */
  private static Future<SettingsRecord> lockSettings(SqlConnection connection) {
    return connection.query("insert into system_settings (id, updated_at, updated_by) values (1, 'epoch', 'default')"
        + " on conflict (id) do nothing").execute()
        .compose(v -> connection.query(SELECT_SETTINGS + " for update").execute())
        .map(rows -> settingsRecord(rows.iterator().next()));
  }

  private static Future<ScopeRecord> before(SqlConnection connection, String scope) {
    return connection.preparedQuery(SELECT_LIMITS + " where scope = $1 for update").execute(Tuple.of(scope))
        .map(rows -> rows.size() == 0 ? null : scopeRecord(rows.iterator().next()));
  }

  private static Future<Void> overcommitCheck(SqlConnection connection, SettingsRecord system, String scope, ScopeRecord before,
      Limits limits) {
    if (!Overcommit.topLevel(scope)) {
      return Future.succeededFuture();
    }
    return topLevelSum(connection, scope).compose(others -> {
      long previous = before == null ? -1 : before.limits().storageHard();
      Optional<Overcommit.Refusal> refused = Overcommit.ofLimit(system.settings(), others, previous, limits.storageHard());
      if (refused.isEmpty()) {
        return Future.succeededFuture();
      }
      Overcommit.Refusal r = refused.get();
      return Future.failedFuture(new OvercommitException(r, "the top-level hard limits would add up to " + ByteSize.format(r.sum())
          + " (" + r.sum() + " bytes) with " + scope + " at " + ByteSize.format(r.requested()) + " (" + r.requested()
          + " bytes), more than the system's hard_storage of " + ByteSize.format(r.hardStorage()) + " (" + r.hardStorage()
          + " bytes); lower other limits, raise hard_storage, or set allow_overcommit"));
    });
  }

  /** The finite hard limits of top-level scopes, {@code except} one (null: none excepted). */
  private static Future<Long> topLevelSum(SqlConnection connection, String except) {
    return connection.preparedQuery("select coalesce(sum(storage_hard), 0)::bigint from scope_limits"
        + " where position('/' in scope) = 0 and storage_hard >= 0 and ($1::text is null or scope <> $1)")
        .execute(Tuple.of(except))
        .map(rows -> rows.iterator().next().getLong(0));
  }

  private static Future<ScopeRecord> upsert(SqlConnection connection, String scope, Limits limits, String actor) {
    return connection
        .preparedQuery(
            """
            insert into scope_limits (scope, storage_hard, storage_soft, egress, egress_window_seconds, repositories_hard,
              repositories_soft, manifests_hard, manifests_soft, updated_at, updated_by)
            values ($1, $2, $3, $4, $5, $7, $8, $9, $10, clock_timestamp(), $6)
            on conflict (scope) do update set storage_hard = excluded.storage_hard, storage_soft = excluded.storage_soft,
              egress = excluded.egress, egress_window_seconds = excluded.egress_window_seconds,
              repositories_hard = excluded.repositories_hard, repositories_soft = excluded.repositories_soft,
              manifests_hard = excluded.manifests_hard, manifests_soft = excluded.manifests_soft,
              updated_at = excluded.updated_at, updated_by = excluded.updated_by
            returning scope, storage_hard, storage_soft, egress, egress_window_seconds, repositories_hard, repositories_soft, manifests_hard, manifests_soft, updated_at, updated_by""")
        .execute(Tuple.of(scope, limits.storageHard(), limits.storageSoft(), limits.egress(), limits.egressWindowSeconds(), actor)
            .addLong(limits.repositoriesHard()).addLong(limits.repositoriesSoft()).addLong(limits.manifestsHard())
            .addLong(limits.manifestsSoft()))
        .map(rows -> scopeRecord(rows.iterator().next()));
  }

  private static Future<SettingsRecord> writeSettings(SqlConnection connection, SystemSettings settings, String actor) {
    return connection.preparedQuery("""
            update system_settings set hard_storage = $1, write_ratio = $2, read_only_forced = $3, allow_overcommit = $4,
              retention_days = $5, updated_at = clock_timestamp(), updated_by = $6
            where id = 1
            returning hard_storage, write_ratio, read_only_forced, allow_overcommit, retention_days, updated_at, updated_by""")
        .execute(Tuple.of(settings.hardStorage(), settings.writeRatio(), settings.readOnlyForced(), settings.allowOvercommit(),
            settings.retentionDays(), actor))
        .map(rows -> settingsRecord(rows.iterator().next()));
  }

  private static Future<Void> audit(SqlConnection connection, String actor, String action, String subject, JsonObject before,
      JsonObject after) {
    return connection
        .preparedQuery("insert into audit_log (at, actor, action, subject, before, after) values (clock_timestamp(), $1, $2, $3, $4, $5)")
        .execute(Tuple.of(actor, action, subject, before, after)).mapEmpty();
  }

  private static ScopeRecord scopeRecord(Row row) {
    return new ScopeRecord(row.getString("scope"),
        new Limits(row.getLong("storage_hard"), row.getLong("storage_soft"), row.getLong("egress"), row.getLong("egress_window_seconds"),
            row.getLong("repositories_hard"), row.getLong("repositories_soft"), row.getLong("manifests_hard"),
            row.getLong("manifests_soft")),
        row.getOffsetDateTime("updated_at").toInstant(), row.getString("updated_by"));
  }

  private static SettingsRecord settingsRecord(Row row) {
    return new SettingsRecord(new SystemSettings(row.getLong("hard_storage"), row.getDouble("write_ratio"),
        row.getBoolean("read_only_forced"), row.getBoolean("allow_overcommit"), row.getInteger("retention_days")),
        row.getOffsetDateTime("updated_at").toInstant(), row.getString("updated_by"));
  }

  private static JsonObject json(Object value) {
    if (value == null) {
      return null;
    }
    return value instanceof JsonObject object ? object : new JsonObject(value.toString());
  }

  private static OffsetDateTime utc(Instant instant) {
    return instant.atOffset(ZoneOffset.UTC);
  }
}
