package dev.quotaproxy.proxy;

import dev.quotaproxy.config.ProxyConfig;
import dev.quotaproxy.ledger.EmbeddedPostgresServer;
import dev.quotaproxy.ledger.LedgerDatabase;
import dev.quotaproxy.metering.EmbeddedRedis;
import dev.quotaproxy.metering.RedisClients;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The stores quotas run on: Redis for every decision, Postgres for the ledger. Each is the configured
 * one, or one started here, embedded, when none is configured (the quick start: one proxy, and its
 * usage gone when it stops). Starting and migrating block: done once, before anything serves.
 */
final class Backends implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Backends.class);

  /** Every Redis client is made from this: the configured Redis (standalone, Cluster or Sentinel) or the embedded one. */
  final RedisClients redis;
  final LedgerDatabase ledgerDatabase;
  private final EmbeddedRedis embeddedRedis;
  private final EmbeddedPostgresServer embeddedPostgres;

  private Backends(RedisClients redis, LedgerDatabase ledgerDatabase, EmbeddedRedis embeddedRedis,
      EmbeddedPostgresServer embeddedPostgres) {
    this.redis = redis;
    this.ledgerDatabase = ledgerDatabase;
    this.embeddedRedis = embeddedRedis;
    this.embeddedPostgres = embeddedPostgres;
  }

  static Backends start(ProxyConfig config) throws IOException {
    EmbeddedRedis redis = null;
    EmbeddedPostgresServer postgres = null;
    try {
      RedisClients clients;
      if (config.redis().embedded()) {
        redis = EmbeddedRedis.start();
        clients = RedisClients.standalone(redis.url());
        LOG.info("no redis.url configured: started an embedded Redis at {}", redis.url());
      } else {
        clients = RedisClients.of(config.redis(), config.redis().url().map(Object::toString).orElse(null));
      }
      LedgerDatabase database;
      if (config.ledger().embedded()) {
        postgres = EmbeddedPostgresServer.start();
        database = postgres.database();
        LOG.info("no postgres.url configured: started an embedded Postgres on port {} (the ledger is lost when the proxy stops)",
            database.port());
      } else {
        database = LedgerDatabase.fromUrl(config.ledger().postgresUrl().orElseThrow());
      }
      database.migrate();
      return new Backends(clients, database, redis, postgres);
    } catch (IOException | RuntimeException e) {
      closeQuietly(redis, postgres);
      throw e;
    }
  }

  @Override
  public void close() {
    closeQuietly(embeddedRedis, embeddedPostgres);
  }

  private static void closeQuietly(AutoCloseable... servers) {
    for (AutoCloseable server : servers) {
      if (server != null) {
        try {
          server.close();
        } catch (Exception e) {
          LOG.warn("could not stop {}: {}", server.getClass().getSimpleName(), e.toString());
        }
      }
    }
  }
}
