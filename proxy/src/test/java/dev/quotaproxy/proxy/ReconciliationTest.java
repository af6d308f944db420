package dev.quotaproxy.proxy;

import static dev.quotaproxy.proxy.support.OciTestClient.image;
import static dev.quotaproxy.proxy.support.OciTestClient.randomBytes;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.ledger.Reconciler;
import dev.quotaproxy.ledger.registry.RegistryWalker;
import dev.quotaproxy.ledger.registry.WalkerOptions;
import dev.quotaproxy.metering.sync.Reconciliations;
import dev.quotaproxy.proxy.support.OciTestClient.Image;
import dev.quotaproxy.proxy.support.QuotaHarness;
import dev.quotaproxy.proxy.support.QuotaHarness.Deployed;
import dev.quotaproxy.proxy.support.QuotaHarness.LedgerSide;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Drift between Redis, Postgres and the registry is found, recorded and corrected, Redis included. */
class ReconciliationTest {
  private static final int KiB = 1024;

  private final Vertx vertx = Vertx.vertx();
  private QuotaHarness harness;
  private Path postgresData;
  private LedgerSide ledger;
  private Deployed proxy;
  private Reconciliations reconciliations;

  @BeforeEach
  void start() throws Exception {
    harness = new QuotaHarness();
    postgresData = Files.createTempDirectory("reconciliation-postgres");
    ledger = harness.withLedger(postgresData, 0);
    proxy = harness.startProxy("");
    reconciliations = new Reconciliations(Redis.createClient(vertx, harness.redis().url()), ledger.ledger(),
        new Reconciler(ledger.postgres().database().pool(vertx, 2),
            new RegistryWalker(vertx, WalkerOptions.of(URI.create(harness.registry().url())))), ledger.recovery());
  }

  @AfterEach
  void stop() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
    harness.close();
    try (var files = Files.walk(postgresData)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
    }
  }

  @Test
  void bytesPushedAroundTheProxyAreFoundAndChargedInRedisToo() throws Exception {
    Image through = image(randomBytes(300 * KiB));
    assertThat(proxy.client().pushImage("acme/app", "1", through).status()).isEqualTo(201);
    drainFeed();
    Image around = image(randomBytes(500 * KiB));
    assertThat(harness.direct().pushImage("acme/app", "2", around).status()).isEqualTo(201);

    var report = QuotaHarness.await(reconciliations.registry());

    long expected = through.totalSize() + around.totalSize();
    assertThat(report.drift()).anySatisfy(drift -> {
      assertThat(drift.scope()).isEqualTo("acme/app");
      assertThat(drift.expected()).isEqualTo(through.totalSize());
      assertThat(drift.found()).isEqualTo(expected);
    });
    assertThat(QuotaHarness.await(ledger.ledger().scopeUsage("acme/app"))).isEqualTo(expected);
    assertThat(QuotaHarness.await(proxy.store().scope("acme/app")).used()).as("Redis follows the ledger").isEqualTo(expected);
  }

  @Test
  void aRegistryFilledBeforeTheProxyIsBackfilledIntoTheLedgerAndRedis() throws Exception {
    byte[] base = randomBytes(400 * KiB);
    Image a = image(base, randomBytes(100 * KiB));
    Image b = image(base, randomBytes(200 * KiB));
    assertThat(harness.direct().pushImage("old/a", "1", a).status()).isEqualTo(201);
    assertThat(harness.direct().pushImage("old/b", "1", b).status()).isEqualTo(201);

    QuotaHarness.await(reconciliations.backfill());

    assertThat(QuotaHarness.await(ledger.ledger().namespaceUsage("old"))).containsAllEntriesOf(Map.of(
        "old", a.totalSize() + b.totalSize() - base.length, "old/a", a.totalSize(), "old/b", b.totalSize()));
    assertThat(QuotaHarness.await(proxy.store().scope("old")).used()).isEqualTo(a.totalSize() + b.totalSize() - base.length);
  }

  @Test
  void redisDriftingFromTheLedgerIsCorrectedFromPostgres() throws Exception {
    assertThat(proxy.client().pushBlob("acme/app", randomBytes(200 * KiB)).status()).isEqualTo(201);
    drainFeed();
    long truth = QuotaHarness.await(ledger.ledger().scopeUsage("acme"));
    harness.redis().command(Request.cmd(Command.HINCRBY).arg("qp:{acme}:used").arg("acme").arg(12345));

    Map<String, long[]> drift = QuotaHarness.await(reconciliations.redisAgainstLedger());

    assertThat(drift).containsKey("acme");
    assertThat(drift.get("acme")).containsExactly(truth + 12345, truth);
    assertThat(QuotaHarness.await(proxy.store().scope("acme")).used()).isEqualTo(truth);
    assertThat(QuotaHarness.await(reconciliations.redisAgainstLedger())).as("nothing left to correct").isEmpty();
  }

  private void drainFeed() throws Exception {
    for (int round = 0; round < 100 && QuotaHarness.await(ledger.feed().feedOnce()) > 0; round++) {
      // until every event is in the ledger
    }
  }
}
