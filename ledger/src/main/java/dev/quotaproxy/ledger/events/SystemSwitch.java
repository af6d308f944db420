package dev.quotaproxy.ledger.events;

import dev.quotaproxy.config.QuotaEventType;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.util.List;

/**
 * READ_ONLY and WRITABLE: the system's read-only state, judged from the ledger as every proxy judges it from Redis
 * (SystemGuard: forced, or system usage at or over the write ratio of {@code hard_storage}), compared with the state
 * events last announced ({@code quota_event_state}); a difference is an event.
 *
 * <p>Why here and not where the proxies flip: each proxy flips on its own, once per refresh, from a sum over every
 * namespace that no Redis script sees, so there is no single atomic place to emit from; the ledger holds system usage
 * (the top-level scopes' usage) and the settings in one database, where a row lock makes one check announce each
 * flip once, however many proxies check. Checked every poll of the delivery worker, so a flip by storage,
 * by the admin API (forced, or a new {@code hard_storage}) or by a reconciliation is announced within a poll of the
 * ledger having it: about a second after the proxies turned.
 */
final class SystemSwitch {
  private SystemSwitch() {}

  /** What the check reads. */
  record State(boolean announced, boolean forced, long hardStorage, double writeRatio, long used) {
    boolean readOnly() {
      return readOnlyAt(forced, hardStorage, writeRatio, used);
    }
  }

  /** SystemGuard's rule, on the ledger's figures. */
  static boolean readOnlyAt(boolean forced, long hardStorage, double writeRatio, long used) {
    return forced || hardStorage > 0 && (double) used / hardStorage >= writeRatio;
  }

  private static final String READ = """
      select (select read_only from quota_event_state where id = 1) as announced,
             s.read_only_forced, s.hard_storage, s.write_ratio,
             (select coalesce(sum(used_bytes), 0)::bigint from scope_usage where position('/' in scope) = 0) as used
      from (select read_only_forced, hard_storage, write_ratio from system_settings where id = 1
            union all select false, -1, 1.0 where not exists (select 1 from system_settings where id = 1)) s
      limit 1""";

  private static State state(Row row) {
    Boolean announced = row.getBoolean("announced");
    return new State(announced != null && announced, row.getBoolean("read_only_forced"), row.getLong("hard_storage"),
        row.getDouble("write_ratio"), row.getLong("used"));
  }

  /** Announces a flip, once: a cheap read first, then, only when it differs, the same under the state row's lock. */
  static Future<Void> check(Pool pool) {
    return read(pool).compose(state -> state.readOnly() == state.announced()
        ? Future.<Void>succeededFuture()
        : pool.withTransaction(connection -> connection
            .query("insert into quota_event_state (id, read_only) values (1, false) on conflict (id) do nothing").execute()
            .compose(v -> connection.query("select read_only from quota_event_state where id = 1 for update").execute())
            .compose(locked -> read(connection))
            .compose(locked -> locked.readOnly() == locked.announced() ? Future.<Void>succeededFuture() : announce(connection, locked))));
  }

  private static Future<State> read(SqlClient client) {
    return client.query(READ).execute().map(rows -> state(rows.iterator().next()));
  }

  private static Future<Void> announce(SqlConnection connection, State state) {
    boolean readOnly = state.readOnly();
    Instant now = Instant.now();
    JsonObject data = new JsonObject().put("usage", state.used()).put("hard_storage", state.hardStorage())
        .put("write_ratio", state.writeRatio()).put("forced", state.forced());
    if (state.hardStorage() > 0) {
      data.put("usage_ratio", (double) state.used() / state.hardStorage());
    }
    QuotaEventType type = readOnly ? QuotaEventType.READ_ONLY : QuotaEventType.WRITABLE;
    return connection.preparedQuery("update quota_event_state set read_only = $1, changed_at = now() where id = 1")
        .execute(Tuple.of(readOnly))
        .compose(v -> QuotaEventRecorder.insert(connection,
            List.of(new QuotaEventRecorder.Row(type, "", now, data, "system:" + now.toEpochMilli() + ":" + type))));
  }
}
