package dev.quotaproxy.ledger.bench;

import dev.quotaproxy.ledger.EmbeddedPostgresServer;
import dev.quotaproxy.ledger.LedgerDatabase;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.Tuple;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * The Postgres a benchmark writes to, migrated: an embedded Postgres 17 in a temporary directory (as the
 * proxy's quick start runs it, or with durable commits), or one given as
 * {@code postgresql://user:password@host:port/database}. Blocking; for the benchmarks' main threads.
 */
final class BenchPostgres implements AutoCloseable {
  private final EmbeddedPostgresServer embedded;
  private final EmbeddedPostgres durable;
  private final LedgerDatabase database;
  private final String description;

  private BenchPostgres(EmbeddedPostgresServer embedded, EmbeddedPostgres durable, LedgerDatabase database, String description) {
    this.embedded = embedded;
    this.durable = durable;
    this.database = database;
    this.description = description;
  }

  /**
   * @param where {@code embedded}: {@link EmbeddedPostgresServer}, as the proxy's quick start runs it (fsync and
   *              synchronous_commit off); {@code durable}: the same Postgres 17 binaries with fsync and
   *              synchronous_commit on, so a commit waits for its WAL to reach the disk as on a production
   *              server; or a {@code postgresql://} URL
   */
  static BenchPostgres start(String where) throws IOException {
    BenchPostgres postgres;
    if ("embedded".equals(where)) {
      EmbeddedPostgresServer server = EmbeddedPostgresServer.start();
      postgres = new BenchPostgres(server, null, server.database(), "embedded Postgres (EmbeddedPostgresServer)");
    } else if ("durable".equals(where)) {
      Path directory = Files.createTempDirectory("quota-proxy-bench-postgres");
      EmbeddedPostgres server = EmbeddedPostgres.builder()
          .setDataDirectory(directory)
          .setCleanDataDirectory(true)
          .setServerConfig("fsync", "on")
          .setServerConfig("synchronous_commit", "on")
          .start();
      postgres = new BenchPostgres(null, server, new LedgerDatabase("jdbc:postgresql://127.0.0.1:" + server.getPort() + "/postgres",
          "127.0.0.1", server.getPort(), "postgres", "postgres", "postgres"),
          "embedded Postgres binaries, fsync and synchronous_commit on, data in " + directory.getParent());
    } else if (where.startsWith("postgresql://")) {
      LedgerDatabase database = LedgerDatabase.fromUrl(URI.create(where));
      postgres = new BenchPostgres(null, null, database,
          "postgresql://" + database.host() + ":" + database.port() + "/" + database.database());
    } else {
      throw new IllegalArgumentException("--postgres: embedded, durable or a postgresql:// URL, not " + where);
    }
    postgres.database.migrate();
    return postgres;
  }

  LedgerDatabase database() {
    return database;
  }

  String description() {
    return description;
  }

  /** Runs one statement on the pool and waits for it. */
  static RowSet<Row> sql(Pool pool, String sql, Object... parameters) {
    try {
      return pool.preparedQuery(sql).execute(Tuple.from(parameters)).await(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("SQL failed: " + sql, e);
    }
  }

  static long number(Pool pool, String sql, Object... parameters) {
    Long value = sql(pool, sql, parameters).iterator().next().getLong(0);
    return value == null ? 0 : value;
  }

  /** The server's version and the settings that decide what a commit costs. */
  static String settings(Pool pool) {
    Row row = sql(pool, """
        select split_part(current_setting('server_version'), ' ', 1), current_setting('synchronous_commit'),
               current_setting('fsync'), current_setting('shared_buffers')""").iterator().next();
    return "Postgres " + row.getString(0) + ", synchronous_commit=" + row.getString(1) + ", fsync=" + row.getString(2)
        + ", shared_buffers=" + row.getString(3);
  }

  /** Fails unless the ledger's tables hold nothing: a benchmark checks its totals against what it sent. */
  static void requireEmpty(Pool pool) {
    for (String table : new String[] {"ledger_events", "blobs", "repository_blobs", "manifests", "scope_usage",
        "reconciliations"}) {
      if (number(pool, "select count(*) from " + table) != 0) {
        throw new IllegalStateException("table " + table + " is not empty: give the benchmark an empty database");
      }
    }
  }

  @Override
  public void close() throws IOException {
    if (embedded != null) {
      embedded.close();
    }
    if (durable != null) {
      durable.close();
    }
  }
}
