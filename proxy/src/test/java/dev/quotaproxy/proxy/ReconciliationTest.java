package dev.quotaproxy.proxy;

import static dev.quotaproxy.proxy.support.OciTestClient.image;
import static dev.quotaproxy.proxy.support.OciTestClient.randomBytes;
import static dev.quotaproxy.testing.Eventually.await;
import static dev.quotaproxy.testing.Eventually.eventually;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.ledger.CountsByScope;
import dev.quotaproxy.ledger.Reconciler;
import dev.quotaproxy.ledger.registry.RegistryWalker;
import dev.quotaproxy.ledger.registry.WalkerOptions;
import dev.quotaproxy.metering.ScopeCounts;
import dev.quotaproxy.metering.sync.ReconcileAfterLoss;
import dev.quotaproxy.metering.sync.Reconciliations;
import dev.quotaproxy.proxy.support.OciTestClient;
import dev.quotaproxy.proxy.support.OciTestClient.Image;
import dev.quotaproxy.proxy.support.ProxyFixture;
import dev.quotaproxy.proxy.support.StorageInvariant;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Drift between Redis, Postgres and the registry is found, recorded and corrected, Redis included. */
class ReconciliationTest {
  private static final int KiB = 1024;

  private final Vertx vertx = Vertx.vertx();

  @RegisterExtension final ProxyFixture proxy = ProxyFixture.of("").withLedger();
  private Reconciliations reconciliations;

  @BeforeEach
  void start() {
    reconciliations = new Reconciliations(Redis.createClient(vertx, proxy.harness().redis().url()), proxy.ledger().ledger(),
        new Reconciler(proxy.ledger().postgres().database().pool(vertx, 2),
            new RegistryWalker(vertx, WalkerOptions.of(URI.create(proxy.harness().registry().url())))),
        proxy.ledger().recovery());
  }

  @AfterEach
  void stop() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  @Test
  void bytesPushedAroundTheProxyAreFoundAndChargedInRedisToo() throws Exception {
    Image through = image(randomBytes(300 * KiB));
    assertThat(proxy.client().pushImage("acme/app", "1", through).status()).isEqualTo(201);
    drainFeed();
    Image around = image(randomBytes(500 * KiB));
    assertThat(proxy.harness().direct().pushImage("acme/app", "2", around).status()).isEqualTo(201);

    var report = await(reconciliations.registry());

    long expected = through.totalSize() + around.totalSize();
    assertThat(report.drift()).anySatisfy(drift -> {
      assertThat(drift.scope()).isEqualTo("acme/app");
      assertThat(drift.expected()).isEqualTo(through.totalSize());
      assertThat(drift.found()).isEqualTo(expected);
    });
    assertThat(await(proxy.ledger().ledger().scopeUsage("acme/app"))).isEqualTo(expected);
    assertThat(await(proxy.store().scope("acme/app")).used()).as("Redis follows the ledger").isEqualTo(expected);
  }

  @Test
  void aRegistryFilledBeforeTheProxyIsBackfilledIntoTheLedgerAndRedis() throws Exception {
    byte[] base = randomBytes(400 * KiB);
    Image a = image(base, randomBytes(100 * KiB));
    Image b = image(base, randomBytes(200 * KiB));
    assertThat(proxy.harness().direct().pushImage("old/a", "1", a).status()).isEqualTo(201);
    assertThat(proxy.harness().direct().pushImage("old/b", "1", b).status()).isEqualTo(201);

    await(reconciliations.backfill());

    assertThat(await(proxy.ledger().ledger().namespaceUsage("old"))).containsAllEntriesOf(Map.of(
        "old", a.totalSize() + b.totalSize() - base.length, "old/a", a.totalSize(), "old/b", b.totalSize()));
    assertThat(await(proxy.store().scope("old")).used()).isEqualTo(a.totalSize() + b.totalSize() - base.length);
  }

  @Test
  void repositoriesAndManifestsPushedOrDeletedAroundTheProxyAreCountedAsTheRegistryHoldsThem() throws Exception {
    Image through = image(randomBytes(10 * KiB));
    assertThat(proxy.client().pushImage("acme/app", "1", through).status()).isEqualTo(201);
    Image gone = image(randomBytes(10 * KiB));
    assertThat(proxy.client().pushImage("acme/app", "2", gone).status()).isEqualTo(201);
    drainFeed();
    assertThat(proxy.harness().direct().pushImage("acme/other", "1", image(randomBytes(10 * KiB))).status()).isEqualTo(201);
    assertThat(proxy.harness().direct().pushImage("acme/app", "3", image(randomBytes(10 * KiB))).status()).isEqualTo(201);
    assertThat(proxy.harness().direct().delete("/v2/acme/app/manifests/" + gone.manifestDigest()).status()).isEqualTo(202);

    await(reconciliations.registry());

    assertThat(await(proxy.store().scope("acme")).counts()).isEqualTo(new ScopeCounts(2, 0, 3, 0));
    assertThat(await(proxy.store().scope("acme/app")).counts()).isEqualTo(new ScopeCounts(1, 0, 2, 0));
    assertThat(await(proxy.ledger().ledger().namespaceCounts("acme"))).containsEntry("acme", new CountsByScope(2, 3));
  }

  @Test
  void redisCountsDriftingFromTheLedgerAreCorrectedFromPostgres() throws Exception {
    assertThat(proxy.client().pushImage("acme/app", "1", image(randomBytes(10 * KiB))).status()).isEqualTo(201);
    drainFeed();
    proxy.harness().redis().command(Request.cmd(Command.HINCRBY).arg("qp:{acme}:counts").arg("acme|repositories").arg(5));
    proxy.harness().redis().command(Request.cmd(Command.HDEL).arg("qp:{acme}:counts").arg("acme/app|manifests"));

    await(reconciliations.redisAgainstLedger());

    assertThat(await(proxy.store().scope("acme")).counts()).isEqualTo(new ScopeCounts(1, 0, 1, 0));
    assertThat(await(proxy.store().scope("acme/app")).counts()).isEqualTo(new ScopeCounts(1, 0, 1, 0));
  }

  @Test
  void redisDriftingFromTheLedgerIsCorrectedFromPostgres() throws Exception {
    assertThat(proxy.client().pushBlob("acme/app", randomBytes(200 * KiB)).status()).isEqualTo(201);
    drainFeed();
    long truth = await(proxy.ledger().ledger().scopeUsage("acme"));
    proxy.harness().redis().command(Request.cmd(Command.HINCRBY).arg("qp:{acme}:used").arg("acme").arg(12345));

    Map<String, long[]> drift = await(reconciliations.redisAgainstLedger());

    assertThat(drift).containsKey("acme");
    assertThat(drift.get("acme")).containsExactly(truth + 12345, truth);
    assertThat(await(proxy.store().scope("acme")).used()).isEqualTo(truth);
    assertThat(await(reconciliations.redisAgainstLedger())).as("nothing left to correct").isEmpty();
  }

  /**
   * Redis loses writes (here all of them) and is restored from the ledger, which still charges a blob the
   * registry has since deleted, as after a failover where a proxy's delete freed nothing on the older state
   * and the ledger never heard of it. The restore charges it again; the reconciliation that follows the loss
   * by itself finds it, records the drift and corrects the ledger and Redis. It runs once: its own refresh of
   * Redis from the corrected ledger is no loss.
   */
  @Test
  void aLossOfRedisIsFollowedByAReconciliationThatCorrectsWhatTheRestoreBroughtBack() throws Exception {
    Image kept = image(randomBytes(300 * KiB));
    assertThat(proxy.client().pushImage("acme/app", "1", kept).status()).isEqualTo(201);
    byte[] gone = randomBytes(200 * KiB);
    assertThat(proxy.client().pushBlob("acme/app", gone).status()).isEqualTo(201);
    drainFeed();
    assertThat(proxy.harness().direct().delete("/v2/acme/app/blobs/" + OciTestClient.digest(gone)).status())
        .as("deleted where the ledger does not hear of it").isEqualTo(202);
    List<Reconciler.Report> runs = new CopyOnWriteArrayList<>();
    proxy.ledger().recovery().followLosses(new ReconcileAfterLoss(vertx, Duration.ofMillis(300),
        () -> reconciliations.both().onSuccess(runs::add))::lost);

    proxy.harness().redis().flushAll();
    await(proxy.ledger().watch().watchOnce());
    assertThat(await(proxy.store().scope("acme/app")).used()).as("charged again by the restore")
        .isEqualTo(kept.totalSize() + gone.length);

    eventually(Duration.ofSeconds(20), () -> assertThat(await(proxy.store().scope("acme/app")).used())
        .as("Redis after the reconciliation").isEqualTo(kept.totalSize()));
    assertThat(await(proxy.ledger().ledger().scopeUsage("acme/app"))).as("the ledger").isEqualTo(kept.totalSize());
    Thread.sleep(1_000);
    assertThat(runs).as("one reconciliation: its own refresh of Redis is not a loss").hasSize(1);
    assertThat(runs.get(0).drift()).as("the drift it recorded").anySatisfy(drift -> {
      assertThat(drift.scope()).isEqualTo("acme/app");
      assertThat(drift.expected()).isEqualTo(kept.totalSize() + gone.length);
      assertThat(drift.found()).isEqualTo(kept.totalSize());
    });
    StorageInvariant.check(proxy.harness().registry().storage(), proxy.stores());
  }

  private void drainFeed() throws Exception {
    for (int round = 0; round < 100 && await(proxy.ledger().feed().feedOnce()) > 0; round++) {
      // until every event is in the ledger
    }
  }
}
