package dev.quotaproxy.proxy.metrics;

import dev.quotaproxy.proxy.metrics.StateGauges.Reconciliation;
import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import java.util.ArrayList;
import java.util.List;

/**
 * The last finished reconciliation of each kind in the ledger, with its drift summed: read from
 * Postgres, so the gauges also show reconciliations other processes ran (another proxy, the
 * {@code reconcile} job).
 */
final class LastReconciliations {
  private static final String SQL = """
      select r.kind, extract(epoch from r.finished_at)::float8 as finished,
             count(d.scope) as scopes, coalesce(sum(abs(d.found_bytes - d.expected_bytes)), 0)::bigint as bytes
        from reconciliations r
        left join drift d on d.reconciliation_id = r.id
       where r.id in (select max(id) from reconciliations where status = 'done' group by kind)
       group by r.kind, r.finished_at""";

  private final Pool pool;

  LastReconciliations(Pool pool) {
    this.pool = pool;
  }

  Future<List<Reconciliation>> read() {
    return pool.query(SQL).execute().map(rows -> {
      List<Reconciliation> latest = new ArrayList<>();
      for (Row row : rows) {
        Double finished = row.getDouble("finished");
        latest.add(new Reconciliation(row.getString("kind"), row.getLong("scopes"), row.getLong("bytes"),
            finished == null ? Double.NaN : finished));
      }
      return latest;
    });
  }
}
