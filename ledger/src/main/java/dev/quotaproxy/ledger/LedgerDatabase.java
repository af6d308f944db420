package dev.quotaproxy.ledger;

import io.vertx.core.Vertx;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;
import java.net.URI;
import org.flywaydb.core.Flyway;

/**
 * Where the ledger lives: a Postgres, its schema brought up to date by Flyway at start, and a
 * reactive pool for everything after. Migrations run once, blocking, before anything serves.
 *
 * @param jdbcUrl  {@code jdbc:postgresql://host:port/database}, for migrations
 * @param host     the server, for the reactive client
 */
public record LedgerDatabase(String jdbcUrl, String host, int port, String database, String user, String password) {

  /** From {@code postgresql://user:password@host:port/database}. */
  public static LedgerDatabase fromUrl(URI url) {
    String userInfo = url.getUserInfo() == null ? "" : url.getUserInfo();
    int colon = userInfo.indexOf(':');
    String user = colon < 0 ? userInfo : userInfo.substring(0, colon);
    String password = colon < 0 ? "" : userInfo.substring(colon + 1);
    String database = url.getPath() == null || url.getPath().length() <= 1 ? "postgres" : url.getPath().substring(1);
    int port = url.getPort() == -1 ? 5432 : url.getPort();
    return new LedgerDatabase("jdbc:postgresql://" + url.getHost() + ":" + port + "/" + database,
        url.getHost(), port, database, user.isEmpty() ? "postgres" : user, password);
  }

  /** Applies every migration not yet applied; blocking. */
  public void migrate() {
    Flyway.configure()
        .dataSource(jdbcUrl, user, password)
        .locations("classpath:db/migration")
        .load()
        .migrate();
  }

  private static final java.util.concurrent.atomic.AtomicInteger POOLS = new java.util.concurrent.atomic.AtomicInteger();

  /** A pool for this database, on the given Vert.x. */
  public Pool pool(Vertx vertx, int size) {
    PgConnectOptions connect = new PgConnectOptions()
        .setHost(host)
        .setPort(port)
        .setDatabase(database)
        .setUser(user)
        .setPassword(password)
        .setCachePreparedStatements(true);
    // Each pool its own name: Vert.x's pool metrics are keyed by it, and pools sharing the default name
    // would collide there (only the first one's gauges would be kept).
    PoolOptions options = new PoolOptions().setMaxSize(size).setName("ledger-" + POOLS.incrementAndGet());
    return PgBuilder.pool().with(options).connectingTo(connect).using(vertx).build();
  }
}
