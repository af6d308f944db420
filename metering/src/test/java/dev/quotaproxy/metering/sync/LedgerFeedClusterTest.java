package dev.quotaproxy.metering.sync;

import static dev.quotaproxy.testing.Eventually.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.quotaproxy.ledger.EmbeddedPostgresServer;
import dev.quotaproxy.ledger.Ledger;
import dev.quotaproxy.metering.CallTimer;
import dev.quotaproxy.metering.EmittedEvents;
import dev.quotaproxy.metering.QuotaKeys;
import dev.quotaproxy.metering.QuotaStore;
import dev.quotaproxy.metering.QuotaStore.Rejection;
import dev.quotaproxy.metering.QuotaStore.Traffic;
import dev.quotaproxy.metering.RedisClients;
import dev.quotaproxy.metering.support.StoreOnRedis;
import dev.quotaproxy.metering.support.TestRedisCluster;
import dev.quotaproxy.oci.Blob;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.sqlclient.Pool;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The ledger feed on a real Redis Cluster of three primaries: the streams of namespaces on different
 * nodes (read by namespace, never in one pipeline) all reach Postgres, once. Skipped without redis-server.
 */
class LedgerFeedClusterTest {
  private static final Vertx vertx = Vertx.vertx();
  private static TestRedisCluster cluster;
  private static EmbeddedPostgresServer postgres;
  private static Path data;

  @BeforeAll
  static void start() throws Exception {
    assumeTrue(TestRedisCluster.available(), "redis-server and redis-cli are not installed");
    cluster = TestRedisCluster.start();
    data = Files.createTempDirectory("ledger-feed-cluster-test");
    postgres = EmbeddedPostgresServer.start(data, 0, false);
    postgres.database().migrate();
  }

  @AfterAll
  static void stop() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
    if (cluster != null) {
      cluster.close();
    }
    if (postgres != null) {
      postgres.close();
      try (var files = Files.walk(data)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
      }
    }
  }

  @Test
  void everyNamespacesStreamReachesTheLedgerOnce() throws Exception {
    RedisClients clients = RedisClients.cluster(cluster.urls());
    StoreOnRedis stores = StoreOnRedis.open(vertx, clients, 4, Duration.ofHours(1), EmittedEvents.NONE, null, null, CallTimer.UNTIMED);
    QuotaStore store = stores.store();
    Pool pool = postgres.database().pool(vertx, 4);
    Ledger ledger = new Ledger(pool);
    Redis redis = clients.create(vertx);
    LedgerFeed feed = new LedgerFeed(vertx, redis, ledger, 3, namespace -> Future.succeededFuture());
    List<String> namespaces = TestRedisCluster.namespacesOnEveryPrimary();

    for (String namespace : namespaces) {
      String app = namespace + "/app";
      String web = namespace + "/web";
      await(store.commitBlob(app, "u1", null, new Blob("sha256:base", 500), "alice"));
      await(store.commitBlob(app, "u2", null, new Blob("sha256:own", 200), "alice"));
      await(store.commitBlob(web, "u3", null, new Blob("sha256:base", 500), "alice"));
      await(store.commitManifest(web, "m2", new Blob("sha256:m2", 40), List.of(new Blob("sha256:base", 500)), "alice"));
      await(store.dropManifest(web, "sha256:m2", "alice"));
      await(store.meter(app, "alice", new Traffic(700, 300, 1, 1)));
      await(store.recordRejection(app, "alice", new Rejection(namespace, "storage_bytes", 10, 750, 740, "storage_limit")));
    }

    int rounds = 0;
    while (await(feed.feedOnce()) > 0) {
      assertThat(++rounds).as("the feed drains").isLessThan(100);
    }

    for (String namespace : namespaces) {
      for (String scope : List.of(namespace, namespace + "/app", namespace + "/web")) {
        assertThat(await(ledger.scopeUsage(scope))).as(scope).isEqualTo(await(store.scope(scope)).used());
      }
      assertThat(await(redis.send(Request.cmd(Command.XPENDING).arg(QuotaKeys.of(namespace).events()).arg("ledger"))).get(0).toLong())
          .as(namespace + " acknowledged").isZero();
    }
    assertThat(await(ledger.scopeUsage(namespaces.get(0)))).isEqualTo(700);
    assertThat(pool.query("select count(*) from rejections").execute().await(10, TimeUnit.SECONDS).iterator().next().getLong(0))
        .isEqualTo(namespaces.size());
    await(redis.close());
    await(stores.close());
    pool.close().await(10, TimeUnit.SECONDS);
  }
}
