package dev.quotaproxy.proxy;

import static dev.quotaproxy.proxy.support.OciTestClient.image;
import static dev.quotaproxy.proxy.support.OciTestClient.randomBytes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.quotaproxy.ledger.EmbeddedPostgresServer;
import dev.quotaproxy.proxy.ledger.LedgerBinding;
import dev.quotaproxy.proxy.quota.QuotaKeys;
import dev.quotaproxy.proxy.support.OciTestClient.Image;
import dev.quotaproxy.proxy.support.QuotaHarness;
import dev.quotaproxy.proxy.support.QuotaHarness.Deployed;
import dev.quotaproxy.proxy.support.QuotaHarness.LedgerSide;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Redis loses its data while the proxy runs: pushes wait for (or, without the ledger, are refused until) the rebuild. */
class RedisLossTest {
  private static final int KiB = 1024;

  private QuotaHarness harness;
  private Path postgresData;
  private LedgerSide ledger;
  private Deployed proxy;

  @BeforeEach
  void start() throws Exception {
    harness = new QuotaHarness();
    postgresData = Files.createTempDirectory("redis-loss-postgres");
    ledger = harness.withLedger(postgresData, 0);
    proxy = harness.startProxy("""
        quota:
          scopes:
            acme: {storage-hard: 4MiB}
        """);
  }

  @AfterEach
  void stop() throws Exception {
    harness.close();
    try (var files = Files.walk(postgresData)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
    }
  }

  @Test
  void afterRedisIsFlushedUsageIsRebuiltFromTheLedgerBeforeAnyPushIsDecided() throws Exception {
    Image first = image(randomBytes(600 * KiB), randomBytes(300 * KiB));
    assertThat(proxy.client().pushImage("acme/app", "1", first).status()).isEqualTo(201);
    assertThat(proxy.client().pushImage("acme/web", "1", image(first.layers()[0])).status()).isEqualTo(201);
    drainFeed();
    Map<String, Long> before = usage("acme", "acme/app", "acme/web");

    harness.redis().flushAll();
    QuotaHarness.await(proxy.configured().refresh());  // limits written again from the configuration

    // The next push finds the namespace unknown, has it restored from the ledger, then is decided.
    assertThat(proxy.client().pushBlob("acme/app", randomBytes(100 * KiB)).status()).isEqualTo(201);
    Map<String, Long> after = usage("acme", "acme/app", "acme/web");
    assertThat(after.get("acme/web")).isEqualTo(before.get("acme/web"));
    assertThat(after.get("acme/app")).isEqualTo(before.get("acme/app") + 100 * KiB);
    assertThat(after.get("acme")).isEqualTo(before.get("acme") + 100 * KiB);
    // And the limit still bites on the restored usage.
    assertThat(proxy.client().pushBlob("acme/app", randomBytes(3584 * KiB)).status()).isEqualTo(403);
  }

  @Test
  void withRedisFlushedAndPostgresDownPushesAreRefusedAndPullsWork() throws Exception {
    byte[] layer = randomBytes(200 * KiB);
    assertThat(proxy.client().pushBlob("acme/app", layer).status()).isEqualTo(201);
    drainFeed();
    long before = QuotaHarness.await(proxy.store().scope("acme")).used();
    int port = ledger.postgres().port();
    ledger.postgres().close();
    harness.redis().flushAll();

    assertThat(proxy.client().pushBlob("acme/app", randomBytes(KiB)).status()).as("no rebuild possible: fail closed").isEqualTo(503);
    assertThat(proxy.client().get("/v2/acme/app/blobs/" + dev.quotaproxy.proxy.support.OciTestClient.digest(layer)).status())
        .as("pulls unaffected").isEqualTo(200);

    EmbeddedPostgresServer restarted = EmbeddedPostgresServer.start(postgresData, port, false);
    try {
      assertThat(proxy.client().pushBlob("acme/app", randomBytes(KiB)).status()).isEqualTo(201);
      assertThat(QuotaHarness.await(proxy.store().scope("acme")).used()).isEqualTo(before + KiB);
    } finally {
      restarted.close();
    }
  }

  @Test
  void theWatchRestoresANamespaceFromAnOlderRedisWithoutWaitingForAPush() throws Exception {
    assertThat(proxy.client().pushBlob("acme/app", randomBytes(300 * KiB)).status()).isEqualTo(201);
    drainFeed();
    long before = QuotaHarness.await(proxy.store().scope("acme")).used();
    harness.redis().flushAll();

    QuotaHarness.await(ledger.watch().watchOnce());

    assertThat(QuotaHarness.await(proxy.store().scope("acme")).used()).isEqualTo(before);
  }

  /**
   * A Redis flushed and then claimed by a process of another ledger (a second proxy on its own
   * Postgres): this proxy must not restore its ledger over it, nor decide pushes on it, nor feed its
   * events into this ledger. Once the claim is gone (an operator deleted the key), it restores again.
   */
  @Test
  void aRedisClaimedByAnotherLedgerIsNeitherRestoredOverNorFedFrom() throws Exception {
    assertThat(proxy.client().pushBlob("acme/app", randomBytes(300 * KiB)).status()).isEqualTo(201);
    drainFeed();
    long before = QuotaHarness.await(proxy.store().scope("acme")).used();
    harness.redis().flushAll();
    harness.redis().command(Request.cmd(Command.SET).arg(QuotaKeys.LEDGER).arg("another-ledger"));

    assertThatThrownBy(() -> QuotaHarness.await(ledger.watch().watchOnce()))
        .isInstanceOf(LedgerBinding.OtherLedgerException.class);
    assertThat(proxy.client().pushBlob("acme/app", randomBytes(KiB)).status()).as("no state to decide on").isEqualTo(503);
    assertThatThrownBy(() -> QuotaHarness.await(ledger.feed().feedIfLeading()))
        .hasMessageContaining("this Redis belongs to ledger another-ledger");
    assertThat(harness.redis().command(Request.cmd(Command.EXISTS).arg("qp:ledger-lease")).toLong()).as("lease given back").isZero();
    assertThat(harness.redis().command(Request.cmd(Command.GET).arg(QuotaKeys.of("acme").epoch()))).isNull();

    harness.redis().command(Request.cmd(Command.DEL).arg(QuotaKeys.LEDGER));
    QuotaHarness.await(ledger.watch().watchOnce());
    assertThat(QuotaHarness.await(proxy.store().scope("acme")).used()).isEqualTo(before);
    assertThat(harness.redis().command(Request.cmd(Command.GET).arg(QuotaKeys.LEDGER)).toString())
        .isEqualTo(QuotaHarness.await(ledger.ledger().redisEpoch()));
  }

  private void drainFeed() throws Exception {
    for (int round = 0; round < 100 && QuotaHarness.await(ledger.feed().feedOnce()) > 0; round++) {
      // until every event is in the ledger
    }
  }

  private Map<String, Long> usage(String... scopes) throws Exception {
    Map<String, Long> usage = new java.util.HashMap<>();
    for (String scope : scopes) {
      usage.put(scope, QuotaHarness.await(proxy.store().scope(scope)).used());
    }
    return usage;
  }
}
