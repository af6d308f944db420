package dev.quotaproxy.ledger.support;

import io.vertx.core.Vertx;
import io.vertx.sqlclient.Pool;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real, migrated Postgres for one test class, with a Vert.x and a pool on it, emptied before each test so
 * no test sees another's rows. Register it as a static field:
 * {@code @RegisterExtension static final LedgerDatabaseExtension db = new LedgerDatabaseExtension(4);}
 */
public final class LedgerDatabaseExtension implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback {
  private final int poolSize;
  private TestPostgres postgres;
  private Vertx vertx;
  private Pool pool;

  public LedgerDatabaseExtension(int poolSize) {
    this.poolSize = poolSize;
  }

  @Override
  public void beforeAll(ExtensionContext context) {
    postgres = TestPostgres.start();
    vertx = Vertx.vertx();
    pool = postgres.database().pool(vertx, poolSize);
  }

  @Override
  public void afterAll(ExtensionContext context) throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
    postgres.close();
  }

  @Override
  public void beforeEach(ExtensionContext context) {
    postgres.truncateAll();
  }

  public TestPostgres postgres() {
    return postgres;
  }

  public Pool pool() {
    return pool;
  }

  public Vertx vertx() {
    return vertx;
  }
}
