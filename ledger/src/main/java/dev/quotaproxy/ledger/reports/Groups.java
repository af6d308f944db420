package dev.quotaproxy.ledger.reports;

import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Groups of scopes, the reporting axis for an institution or a cost centre owning several
 * namespaces, each member possibly with a share of its scope ({@link Shares}). Every change is recorded
 * in {@code audit_log} in its own transaction, with who made it and the group before and after.
 * Non-blocking.
 */
public final class Groups {
  /** A group's name: a letter or digit, then up to 63 letters, digits, dots, underscores or dashes. */
  public static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
  public static final int MAX_SCOPES = 1000;

  /**
   * A group as stored: its scopes as given (sorted, each once); {@link #roots()} is what reports add up.
   *
   * @param shares the members with a share, in percent (the others count whole)
   */
  public record Group(String name, String description, List<String> scopes, Map<String, BigDecimal> shares, Instant updatedAt,
      String updatedBy) {
    public Group {
      scopes = List.copyOf(new TreeSet<>(scopes));
      Map<String, BigDecimal> normal = new TreeMap<>();
      shares.forEach((scope, share) -> normal.put(scope, Shares.normal(share)));
      shares = java.util.Collections.unmodifiableMap(normal);
    }

    public Group(String name, String description, List<String> scopes, Instant updatedAt, String updatedBy) {
      this(name, description, scopes, Map.of(), updatedAt, updatedBy);
    }

    public ScopeSet roots() {
      return ScopeSet.of(scopes);
    }

    public JsonObject toJson() {
      return new JsonObject().put("name", name).put("description", description).put("scopes", new JsonArray(scopes))
          .put("roots", new JsonArray(roots().roots())).put("shares", sharesJson()).put("updated_at", updatedAt.toString())
          .put("updated_by", updatedBy);
    }

    /** The shares as JSON numbers ({@code {"acme": 60}}): exact, never in exponent form. */
    public JsonObject sharesJson() {
      JsonObject json = new JsonObject();
      shares.forEach((scope, share) -> json.put(scope, share));
      return json;
    }

    /** What the audit log keeps of it. */
    JsonObject audited() {
      JsonObject audited = new JsonObject().put("description", description).put("scopes", new JsonArray(scopes));
      if (!shares.isEmpty()) {
        JsonObject texts = new JsonObject();
        shares.forEach((scope, share) -> texts.put(scope, Shares.text(share)));
        audited.put("shares", texts);
      }
      return audited;
    }
  }

  /** The outcome of a put: the group as stored, and whether it is new. */
  public record Put(Group group, boolean created) {}

  private static final String SELECT = """
      select g.name, g.description, g.updated_at, g.updated_by, coalesce(array_agg(s.scope order by s.scope)
               filter (where s.scope is not null), '{}') as scopes,
             coalesce(array_agg(s.scope order by s.scope) filter (where s.share is not null), '{}') as shared,
             coalesce(array_agg(s.share::text order by s.scope) filter (where s.share is not null), '{}') as shares
      from report_groups as g left join report_group_scopes as s on s.group_name = g.name
      %s
      group by g.name order by g.name collate "C"
      """;

  private final Pool pool;

  public Groups(Pool pool) {
    this.pool = pool;
  }

  public Future<List<Group>> list() {
    return pool.query(SELECT.formatted("")).execute().map(Groups::groups);
  }

  public Future<Optional<Group>> get(String name) {
    return pool.preparedQuery(SELECT.formatted("where g.name = $1")).execute(Tuple.of(name))
        .map(rows -> groups(rows).stream().findFirst());
  }

  /** The groups with these names that exist, by name. */
  public Future<Map<String, Group>> get(List<String> names) {
    return pool.preparedQuery(SELECT.formatted("where g.name = any($1::text[])"))
        .execute(Tuple.tuple().addValue(names.toArray(String[]::new)))
        .map(rows -> {
          Map<String, Group> found = new LinkedHashMap<>();
          groups(rows).forEach(group -> found.put(group.name(), group));
          return found;
        });
  }

  /**
   * Creates or replaces a group (its scopes are exactly {@code scopes} afterwards), recording the
   * change. The caller has checked the name ({@link #NAME}) and the scopes.
   */
  public Future<Put> put(String name, String description, List<String> scopes, String actor) {
    return put(name, description, scopes, Map.of(), actor);
  }

  /**
   * Creates or replaces a group with shares of some of its members (in percent; the caller has checked
   * them with {@link Shares#checkMembers}). Fails with {@link Shares.ExcessException}, writing nothing,
   * when the shares of a scope across every group would add up to more than 100%. Group changes take a
   * lock for it, so two of them cannot jointly exceed 100%.
   */
  public Future<Put> put(String name, String description, List<String> scopes, Map<String, BigDecimal> shares, String actor) {
    return pool.withTransaction(connection -> connection.query("select pg_advisory_xact_lock(" + SHARES_LOCK + ")").execute()
        .compose(lock -> connection.preparedQuery(SELECT.formatted("where g.name <> $1")).execute(Tuple.of(name)))
        .compose(others -> {
          Map<String, Shares.Members> after = new TreeMap<>();
          groups(others).forEach(other -> after.put(other.name(), new Shares.Members(other.scopes(), other.shares())));
          after.put(name, new Shares.Members(scopes, shares));
          var excess = Shares.excess(after);
          return excess.isPresent()
              ? Future.<Optional<Group>>failedFuture(new Shares.ExcessException(excess.get()))
              : locked(connection, name);
        })
        .compose(before -> connection.preparedQuery("""
            insert into report_groups (name, description, updated_at, updated_by) values ($1, $2, now(), $3)
            on conflict (name) do update set description = excluded.description, updated_at = excluded.updated_at,
              updated_by = excluded.updated_by""")
            .execute(Tuple.of(name, description, actor))
            .compose(done -> connection.preparedQuery("delete from report_group_scopes where group_name = $1").execute(Tuple.of(name)))
            .compose(done -> connection.preparedQuery("""
                insert into report_group_scopes (group_name, scope, share)
                select $1, given.scope, shared.share::numeric from unnest($2::text[]) as given (scope)
                  left join unnest($3::text[], $4::text[]) as shared (scope, share) on shared.scope = given.scope
                on conflict do nothing""")
                .execute(Tuple.tuple().addValue(name).addValue(scopes.toArray(String[]::new))
                    .addValue(shares.keySet().toArray(String[]::new))
                    .addValue(shares.values().stream().map(BigDecimal::toPlainString).toArray(String[]::new))))
            .compose(done -> connection.preparedQuery(SELECT.formatted("where g.name = $1")).execute(Tuple.of(name)))
            .map(rows -> groups(rows).get(0))
            .compose(after -> audit(connection, actor, "group.put", name, before.map(Group::audited).orElse(null), after.audited())
                .map(new Put(after, before.isEmpty())))));
  }

  /** The advisory lock key of group changes (any constant; "shares" in ASCII). */
  private static final long SHARES_LOCK = 0x736861726573L;

  /** Deletes a group, recording it; false when there was none. */
  public Future<Boolean> delete(String name, String actor) {
    return pool.withTransaction(connection -> locked(connection, name).compose(before -> {
      if (before.isEmpty()) {
        return Future.succeededFuture(false);
      }
      return connection.preparedQuery("delete from report_groups where name = $1").execute(Tuple.of(name))
          .compose(done -> audit(connection, actor, "group.delete", name, before.get().audited(), null))
          .map(true);
    }));
  }

  /** The group as it is, its row locked so that two changes of it are recorded in the order they happened. */
  private static Future<Optional<Group>> locked(SqlConnection connection, String name) {
    return connection.preparedQuery("select name from report_groups where name = $1 for update").execute(Tuple.of(name))
        .compose(lock -> connection.preparedQuery(SELECT.formatted("where g.name = $1")).execute(Tuple.of(name)))
        .map(rows -> groups(rows).stream().findFirst());
  }

  private static Future<Void> audit(SqlConnection connection, String actor, String action, String subject,
      JsonObject before, JsonObject after) {
    return connection.preparedQuery("insert into audit_log (actor, action, subject, before, after) values ($1, $2, $3, $4, $5)")
        .execute(Tuple.of(actor, action, subject, before, after)).mapEmpty();
  }

  private static List<Group> groups(RowSet<Row> rows) {
    List<Group> groups = new ArrayList<>();
    for (Row row : rows) {
      String[] shared = row.getArrayOfStrings("shared");
      String[] values = row.getArrayOfStrings("shares");
      Map<String, BigDecimal> shares = new TreeMap<>();
      for (int i = 0; i < shared.length; i++) {
        shares.put(shared[i], new BigDecimal(values[i]));
      }
      groups.add(new Group(row.getString("name"), row.getString("description"), List.of(row.getArrayOfStrings("scopes")), shares,
          row.getOffsetDateTime("updated_at").toInstant(), row.getString("updated_by")));
    }
    return groups;
  }
}
