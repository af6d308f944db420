package dev.quotaproxy.metering.sync;

import static dev.quotaproxy.testing.Eventually.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.ledger.EmbeddedPostgresServer;
import dev.quotaproxy.ledger.Ledger;
import dev.quotaproxy.oci.Blob;
import dev.quotaproxy.metering.QuotaKeys;
import dev.quotaproxy.metering.QuotaStore;
import dev.quotaproxy.metering.support.StoreOnRedis;
import dev.quotaproxy.metering.support.TestRedis;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The proxy's copy of the events its scripts append: forgotten once recorded, applied from when Redis lost them, bounded. */
class EventOutboxTest {
  private static final String DIGEST = "sha256:" + "a".repeat(64);

  private final Vertx vertx = Vertx.vertx();
  private TestRedis redis;
  private EmbeddedPostgresServer postgres;
  private Path data;
  private Ledger ledger;
  private Redis client;
  private EventOutbox outbox;
  private QuotaStore store;
  private LedgerRecovery recovery;

  @BeforeEach
  void start() throws Exception {
    redis = TestRedis.start();
    data = Files.createTempDirectory("event-outbox-test");
    postgres = EmbeddedPostgresServer.start(data, 0, false);
    postgres.database().migrate();
    ledger = new Ledger(postgres.database().pool(vertx, 4));
    client = Redis.createClient(vertx, redis.url());
    outbox = new EventOutbox(client, ledger);
    recovery = new LedgerRecovery(vertx, client, ledger, outbox, namespace -> Future.succeededFuture());
    store = StoreOnRedis.open(vertx, redis.url(), 4, Duration.ofHours(1), outbox, null, recovery).store();
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
  void whatTheScriptsAppendIsHeldUntilTheLedgerHasRecordedIt() throws Exception {
    await(store.commitBlob("acme/app", null, null, new Blob(DIGEST, 1000), "alice"));
    assertThat(outbox.size()).isEqualTo(1);

    await(outbox.check(recovery::restoreFromLedger, later()));
    assertThat(outbox.size()).as("still in its stream: left to the feed").isEqualTo(1);
    assertThat(outbox.recovered()).isZero();

    await(new LedgerFeed(vertx, client, ledger, 100, recovery::restoreFromLedger).feedOnce());
    await(outbox.check(recovery::restoreFromLedger, later()));
    assertThat(outbox.size()).as("recorded by the ledger: forgotten").isZero();
    assertThat(outbox.recovered()).isZero();
  }

  @Test
  void anEventRedisLostIsAppliedFromTheCopyAndItsNamespaceRestored() throws Exception {
    await(store.commitBlob("acme/app", null, null, new Blob(DIGEST, 1000), "alice"));
    redis.command(Request.cmd(Command.DEL).arg(QuotaKeys.of("acme").events()));

    await(outbox.check(recovery::restoreFromLedger, later()));

    assertThat(outbox.recovered()).isEqualTo(1);
    assertThat(outbox.size()).isZero();
    assertThat(await(ledger.scopeUsage("acme/app"))).isEqualTo(1000);
    assertThat(await(store.scope("acme/app")).used()).as("restored from the ledger").isEqualTo(1000);
  }

  @Test
  void pastItsCapacityEventsAreNotHeldAndCounted() {
    EventOutbox small = new EventOutbox(client, ledger, 2, System::currentTimeMillis);
    for (int i = 0; i < 5; i++) {
      small.emitted("acme", "1000-" + i, Map.of("type", "blob_added"));
    }

    assertThat(small.size()).isEqualTo(2);
    assertThat(small.notHeld()).isEqualTo(3);
  }

  private static long later() {
    return System.currentTimeMillis() + 60_000;
  }
}
