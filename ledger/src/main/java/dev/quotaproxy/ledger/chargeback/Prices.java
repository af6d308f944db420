package dev.quotaproxy.ledger.chargeback;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.math.BigDecimal;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The price list in Postgres ({@code price_versions}): its versions, each written or deleted with an
 * {@code audit_log} entry in the same transaction. One currency for all: a version in another currency
 * than the others is refused. Non-blocking.
 */
public final class Prices {
  private static final String SELECT = """
      select effective_from, currency, storage_gib_month::text, egress_gib::text, ingress_gib::text, pulls_1000::text,
             updated_at, updated_by
      from price_versions %s order by effective_from""";

  /** The advisory lock key of price changes, so that two cannot bring in two currencies ("prices" in ASCII). */
  private static final long LOCK = 0x707269636573L;

  /** A version in another currency than the list's; nothing was written. */
  public static final class CurrencyException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    CurrencyException(String message) {
      super(message, null, false, false);
    }
  }

  public record Put(PriceVersion version, boolean created) {}

  private final Pool pool;

  public Prices(Pool pool) {
    this.pool = pool;
  }

  public Future<List<PriceVersion>> list() {
    return pool.query(SELECT.formatted("")).execute().map(Prices::versions);
  }

  /** Creates or replaces the version taking effect on its date. */
  public Future<Put> put(LocalDate effectiveFrom, String currency, Map<Item, BigDecimal> prices, String actor) {
    return pool.withTransaction(connection -> connection.query("select pg_advisory_xact_lock(" + LOCK + ")").execute()
        .compose(lock -> connection.query(SELECT.formatted("")).execute())
        .compose(rows -> {
          List<PriceVersion> all = versions(rows);
          for (PriceVersion other : all) {
            if (!other.effectiveFrom().equals(effectiveFrom) && !other.currency().equals(currency)) {
              return Future.<Put>failedFuture(new CurrencyException("the price list is in " + other.currency()
                  + " (the version of " + other.effectiveFrom() + "); a version in " + currency + " cannot join it"));
            }
          }
          Optional<PriceVersion> before = all.stream().filter(v -> v.effectiveFrom().equals(effectiveFrom)).findFirst();
          return connection.preparedQuery("""
                  insert into price_versions (effective_from, currency, storage_gib_month, egress_gib, ingress_gib, pulls_1000,
                    updated_at, updated_by)
                  values ($1, $2, $3, $4, $5, $6, now(), $7)
                  on conflict (effective_from) do update set currency = excluded.currency,
                    storage_gib_month = excluded.storage_gib_month, egress_gib = excluded.egress_gib,
                    ingress_gib = excluded.ingress_gib, pulls_1000 = excluded.pulls_1000,
                    updated_at = excluded.updated_at, updated_by = excluded.updated_by""")
              .execute(Tuple.of(effectiveFrom, currency, prices.get(Item.STORAGE), prices.get(Item.EGRESS), prices.get(Item.INGRESS),
                  prices.get(Item.PULLS), actor))
              .compose(done -> connection.preparedQuery(SELECT.formatted("where effective_from = $1")).execute(Tuple.of(effectiveFrom)))
              .map(written -> versions(written).get(0))
              .compose(after -> audit(connection, actor, "prices.put", effectiveFrom.toString(),
                  before.map(Prices::audited).orElse(null), audited(after)).map(new Put(after, before.isEmpty())));
        }));
  }

  /** Deletes the version taking effect on that date; false when there is none. */
  public Future<Boolean> delete(LocalDate effectiveFrom, String actor) {
    return pool.withTransaction(connection -> connection.query("select pg_advisory_xact_lock(" + LOCK + ")").execute()
        .compose(lock -> connection.preparedQuery(SELECT.formatted("where effective_from = $1")).execute(Tuple.of(effectiveFrom)))
        .compose(rows -> {
          List<PriceVersion> found = versions(rows);
          if (found.isEmpty()) {
            return Future.succeededFuture(false);
          }
          return connection.preparedQuery("delete from price_versions where effective_from = $1").execute(Tuple.of(effectiveFrom))
              .compose(done -> audit(connection, actor, "prices.delete", effectiveFrom.toString(), audited(found.get(0)), null))
              .map(true);
        }));
  }

  private static JsonObject audited(PriceVersion version) {
    JsonObject json = version.toJson();
    json.remove("updated_at");
    json.remove("updated_by");
    return json;
  }

  private static Future<Void> audit(SqlConnection connection, String actor, String action, String subject, JsonObject before,
      JsonObject after) {
    return connection.preparedQuery("insert into audit_log (actor, action, subject, before, after) values ($1, $2, $3, $4, $5)")
        .execute(Tuple.of(actor, action, subject, before, after)).mapEmpty();
  }

  private static List<PriceVersion> versions(RowSet<Row> rows) {
    List<PriceVersion> versions = new ArrayList<>();
    for (Row row : rows) {
      Map<Item, BigDecimal> prices = new EnumMap<>(Item.class);
      prices.put(Item.STORAGE, new BigDecimal(row.getString(2)));
      prices.put(Item.EGRESS, new BigDecimal(row.getString(3)));
      prices.put(Item.INGRESS, new BigDecimal(row.getString(4)));
      prices.put(Item.PULLS, new BigDecimal(row.getString(5)));
      versions.add(new PriceVersion(row.getLocalDate("effective_from"), row.getString("currency"), prices,
          row.getOffsetDateTime("updated_at").toInstant(), row.getString("updated_by")));
    }
    return versions;
  }
}
