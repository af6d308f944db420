package dev.quotaproxy.ledger;

import io.vertx.core.Future;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/** The ledger's record of repositories, as a reconciliation reads it (on a pool, or inside its commit). */
final class RepositoryRecords {
  private RepositoryRecords() {}

  /** What the ledger holds for one repository: links and manifests, with their times. */
  static Future<LedgerRepository> read(SqlClient client, String repository) {
    Map<String, Long> sizes = new HashMap<>();
    Map<String, Instant> linkedAt = new HashMap<>();
    Future<Void> links = client.preparedQuery("""
            select l.digest, b.size, l.linked_at
            from repository_blobs l
            join blobs b on b.digest = l.digest
            where l.repository = $1""")
        .execute(Tuple.of(repository))
        .map(rows -> {
          rows.forEach(row -> {
            sizes.put(row.getString(0), row.getLong(1));
            linkedAt.put(row.getString(0), row.getOffsetDateTime(2).toInstant());
          });
          return null;
        });
    Map<String, Set<String>> references = new HashMap<>();
    Map<String, Instant> pushedAt = new HashMap<>();
    Future<Void> manifests = client.preparedQuery("""
            select m.digest, r.digest, m.pushed_at
            from manifests m
            left join manifest_references r on r.repository = m.repository and r.manifest_digest = m.digest
            where m.repository = $1""")
        .execute(Tuple.of(repository))
        .map(rows -> {
          rows.forEach(row -> {
            Set<String> of = references.computeIfAbsent(row.getString(0), digest -> new HashSet<>());
            if (row.getString(1) != null) {
              of.add(row.getString(1));
            }
            pushedAt.put(row.getString(0), row.getOffsetDateTime(2).toInstant());
          });
          return null;
        });
    return Future.all(links, manifests)
        .map(both -> new LedgerRepository(repository, sizes, references, linkedAt, pushedAt));
  }

  /** Every repository the ledger links blobs or manifests to. */
  static Future<Set<String>> names(SqlClient client) {
    return client.query("select repository from repository_blobs union select repository from manifests").execute()
        .map(rows -> {
          Set<String> repositories = new HashSet<>();
          rows.forEach(row -> repositories.add(row.getString(0)));
          return repositories;
        });
  }
}
