package dev.quotaproxy.ledger.support;

import dev.quotaproxy.ledger.EmbeddedPostgresServer;
import dev.quotaproxy.ledger.LedgerDatabase;
import io.vertx.core.Vertx;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.Tuple;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.TimeUnit;

/**
 * A real Postgres for one test class, migrated, with a pool of its own for setting up and
 * inspecting tables behind the code under test.
 */
public final class TestPostgres implements AutoCloseable {
  private final EmbeddedPostgresServer server;
  private final Vertx vertx = Vertx.vertx();
  private final Pool admin;

  private TestPostgres(EmbeddedPostgresServer server) {
    this.server = server;
    server.database().migrate();
    this.admin = server.database().pool(vertx, 2);
  }

  public static TestPostgres start() {
    try {
      return new TestPostgres(EmbeddedPostgresServer.start());
    } catch (IOException e) {
      throw new UncheckedIOException("could not start Postgres for the tests", e);
    }
  }

  public LedgerDatabase database() {
    return server.database();
  }

  /** Runs one statement and waits for it (tests run off the event loop). */
  public RowSet<Row> sql(String sql, Object... parameters) {
    try {
      return admin.preparedQuery(sql).execute(Tuple.from(parameters)).await(20, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("SQL failed: " + sql, e);
    }
  }

  /** Empties every table the migrations made, keeping the schema. */
  public void truncateAll() {
    sql("""
        do $$ declare t record; begin
          for t in select tablename from pg_tables where schemaname = 'public' and tablename <> 'flyway_schema_history' loop
            execute 'truncate table ' || quote_ident(t.tablename) || ' restart identity cascade';
          end loop;
        end $$""");
  }

  @Override
  public void close() throws IOException {
    try {
      vertx.close().await(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      // Stopping the server below is what matters.
    }
    server.close();
  }
}
