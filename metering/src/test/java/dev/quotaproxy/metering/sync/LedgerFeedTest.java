package dev.quotaproxy.metering.sync;

import static dev.quotaproxy.testing.Eventually.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.ledger.EmbeddedPostgresServer;
import dev.quotaproxy.ledger.Ledger;
import dev.quotaproxy.oci.Blob;
import dev.quotaproxy.metering.QuotaStore.Rejection;
import dev.quotaproxy.metering.QuotaStore.Traffic;
import dev.quotaproxy.metering.QuotaStore;
import dev.quotaproxy.metering.support.StoreOnRedis;
import dev.quotaproxy.metering.support.TestRedis;
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
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The event path: what the scripts append reaches Postgres once, whatever fails in between. */
class LedgerFeedTest {
  private static final String APP = "acme/team/app";
  private static final String WEB = "acme/team/web";

  private final Vertx vertx = Vertx.vertx();
  private TestRedis redis;
  private EmbeddedPostgresServer postgres;
  private Path data;
  private QuotaStore store;
  private Pool pool;
  private Ledger ledger;
  private LedgerFeed feed;

  @BeforeEach
  void start() throws Exception {
    redis = TestRedis.start();
    data = Files.createTempDirectory("ledger-feed-test");
    postgres = EmbeddedPostgresServer.start(data, 0, false);
    postgres.database().migrate();
    store = StoreOnRedis.open(vertx, redis.url(), 4, Duration.ofHours(1)).store();
    connect();
  }

  private void connect() {
    pool = postgres.database().pool(vertx, 4);
    ledger = new Ledger(pool);
    feed = new LedgerFeed(vertx, Redis.createClient(vertx, redis.url()), ledger, 3, namespace -> Future.succeededFuture());
  }

  @AfterEach
  void stop() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
    redis.close();
    postgres.close();
    try (var files = Files.walk(data)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
    }
  }

  @Test
  void afterAMixedWorkloadPostgresCountsWhatRedisCounts() throws Exception {
    mixedWorkload("alice");

    drain();

    for (String scope : List.of("acme", "acme/team", APP, WEB)) {
      assertThat(await(ledger.scopeUsage(scope))).as(scope).isEqualTo(await(store.scope(scope)).used());
    }
    assertThat(count("select count(*) from rejections")).isEqualTo(1);
    assertThat(count("select coalesce(sum(ingress_bytes), 0) from user_traffic_hourly where user_name = 'alice'")).isEqualTo(700);
    assertThat(redis.command(Request.cmd(Command.XLEN).arg("qp:{acme}:events")).toLong()).as("trimmed to what is acknowledged")
        .isLessThanOrEqualTo(1);
    assertThat(redis.command(Request.cmd(Command.XPENDING).arg("qp:{acme}:events").arg("ledger")).get(0).toLong()).isZero();
  }

  @Test
  void aBatchCommittedButNotAcknowledgedIsReadAgainAndCountedOnce() throws Exception {
    mixedWorkload("alice");
    long produced = redis.command(Request.cmd(Command.XLEN).arg("qp:{acme}:events")).toLong();
    // A feed that read everything and committed it to Postgres, then died before acknowledging.
    redis.command(Request.cmd(Command.XGROUP).arg("CREATE").arg("qp:{acme}:events").arg("ledger").arg("0"));
    var read = redis.command(Request.cmd(Command.XREADGROUP).arg("GROUP").arg("ledger").arg("feed").arg("COUNT").arg(100)
        .arg("STREAMS").arg("qp:{acme}:events").arg(">"));
    var entries = read.isMap() ? read.get("qp:{acme}:events") : read.get(0).get(1);
    List<dev.quotaproxy.ledger.LedgerEvent> committed = new java.util.ArrayList<>();
    for (var entry : entries) {
      Map<String, String> fields = new java.util.HashMap<>();
      for (int i = 0; i + 1 < entry.get(1).size(); i += 2) {
        fields.put(entry.get(1).get(i).toString(), entry.get(1).get(i + 1).toString());
      }
      StreamEvents.parse("acme", entry.get(0).toString(), fields).ifPresent(committed::add);
    }
    assertThat(await(ledger.apply(committed))).isEqualTo((int) produced);

    drain();

    assertThat(count("select count(*) from ledger_events")).as("each entry once").isEqualTo(produced);
    for (String scope : List.of("acme", "acme/team", APP, WEB)) {
      assertThat(await(ledger.scopeUsage(scope))).as(scope).isEqualTo(await(store.scope(scope)).used());
    }
    assertThat(redis.command(Request.cmd(Command.XPENDING).arg("qp:{acme}:events").arg("ledger")).get(0).toLong()).isZero();
  }

  /**
   * Redis back from an older snapshot brings back the consumer group's pending list as it was then: entries
   * the feed read and acknowledged since, which no new read delivers again. The feed reads what is pending
   * again every so often, so they reach the ledger (once) and are acknowledged.
   */
  @Test
  void entriesAnOlderSnapshotLeavesPendingAreReadAgainAndAcknowledged() throws Exception {
    feed = new LedgerFeed(vertx, Redis.createClient(vertx, redis.url()), ledger, 3, namespace -> Future.succeededFuture(), 0);
    mixedWorkload("alice");
    drain();
    await(store.meter(APP, "bob", new Traffic(100, 0, 1, 0)));
    // Delivered to the feed's consumer by a read whose acknowledgement the older snapshot does not have.
    redis.command(Request.cmd(Command.XREADGROUP).arg("GROUP").arg("ledger").arg("feed").arg("COUNT").arg(100).arg("STREAMS")
        .arg("qp:{acme}:events").arg(">"));

    drain();

    assertThat(redis.command(Request.cmd(Command.XPENDING).arg("qp:{acme}:events").arg("ledger")).get(0).toLong()).isZero();
    assertThat(count("select coalesce(sum(ingress_bytes), 0) from user_traffic_hourly where user_name = 'bob'")).isEqualTo(100);
  }

  @Test
  void postgresStoppedDuringPushesLosesNothingAndCountsNothingTwice() throws Exception {
    mixedWorkload("alice");
    drain();
    int port = postgres.port();
    pool.close();
    postgres.close();

    // Pushes go on while Postgres is down: the feed fails, acknowledges nothing, the stream grows.
    for (int i = 0; i < 5; i++) {
      await(store.commitBlob("acme/down/r" + i, "u" + i, null, new Blob("sha256:down" + i, 1000 + i), "bob"));
    }
    assertThat(feed.feedOnce().transform(Future::succeededFuture).await(30, TimeUnit.SECONDS).failed()).isTrue();
    assertThat(redis.command(Request.cmd(Command.XLEN).arg("qp:{acme}:events")).toLong()).isGreaterThanOrEqualTo(5);

    postgres = EmbeddedPostgresServer.start(data, port, false);
    connect();
    drain();

    assertThat(await(ledger.scopeUsage("acme"))).isEqualTo(await(store.scope("acme")).used());
    assertThat(await(ledger.scopeUsage("acme/down"))).isEqualTo(5 * 1000 + 10);
    assertThat(count("select count(*) from ledger_events")).isEqualTo(count("select count(distinct event_id) from ledger_events"));
  }

  /** Blobs in two repositories sharing one, a manifest put and deleted, traffic, a refusal. */
  private void mixedWorkload(String user) throws Exception {
    await(store.commitBlob(APP, "u1", null, new Blob("sha256:base", 500), user));
    await(store.commitBlob(APP, "u2", null, new Blob("sha256:own", 200), user));
    await(store.commitBlob(WEB, "u3", null, new Blob("sha256:base", 500), user));
    await(store.commitManifest(APP, "m1", new Blob("sha256:m1", 50), List.of(new Blob("sha256:base", 500), new Blob("sha256:own", 200)),
        user));
    await(store.commitManifest(WEB, "m2", new Blob("sha256:m2", 40), List.of(new Blob("sha256:base", 500)), user));
    await(store.dropManifest(WEB, "sha256:m2", user));
    await(store.meter(APP, user, new Traffic(700, 300, 1, 1)));
    await(store.recordRejection(APP, user, new Rejection("acme", "storage_bytes", 10, 750, 740, "storage_limit")));
  }

  private void drain() throws Exception {
    for (int round = 0; round < 100; round++) {
      if (await(feed.feedOnce()) == 0) {
        return;
      }
    }
    throw new AssertionError("the feed did not drain");
  }

  private long count(String sql) throws Exception {
    return pool.query(sql).execute().await(10, TimeUnit.SECONDS).iterator().next().getLong(0);
  }
}
