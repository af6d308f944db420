package dev.quotaproxy.proxy;

import static dev.quotaproxy.proxy.support.OciTestClient.digest;
import static dev.quotaproxy.proxy.support.OciTestClient.randomBytes;
import static dev.quotaproxy.testing.Eventually.await;
import static dev.quotaproxy.testing.Eventually.eventually;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.metering.sync.RegistryIntents;
import dev.quotaproxy.oci.Blob;
import dev.quotaproxy.metering.QuotaKeys;
import dev.quotaproxy.metering.support.StoreOnRedis;
import dev.quotaproxy.metering.QuotaStore;
import dev.quotaproxy.proxy.support.AnswerDroppingRelay;
import dev.quotaproxy.proxy.support.OciTestClient;
import dev.quotaproxy.proxy.support.ProxyFixture;
import dev.quotaproxy.proxy.support.QuotaHarness.Deployed;
import dev.quotaproxy.proxy.support.StorageInvariant;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A proxy that dies (or whose store call fails) between sending a closing PUT or a DELETE and recording
 * what the registry did leaves its intent behind; once its lease has run out, another proxy asks the
 * registry and records it: a stored blob is charged, a deleted one dropped, and an intent the registry
 * did not act on just goes. Here the dead proxy is a store whose leases last a millisecond, and what the
 * registry did before it died is done to the registry directly.
 */
class RegistryIntentsTest {
  private static final int KiB = 1024;

  @RegisterExtension final ProxyFixture proxy = ProxyFixture.acme("10MiB");
  private QuotaStore dead;
  private RegistryIntents intents;

  @BeforeEach
  void start() {
    dead = StoreOnRedis.open(proxy.harness().vertx(), proxy.harness().redis().url(), 2, Duration.ofMillis(1)).store();
    intents = proxy.intents();
  }

  @Test
  void aBlobTheRegistryStoredForADeadProxyIsChargedAndAnIntentForNothingIsDropped() throws Exception {
    assertThat(proxy.client().pushBlob("acme/app", randomBytes(KiB)).status()).isEqualTo(201);
    byte[] stored = randomBytes(300 * KiB);
    byte[] neverStored = randomBytes(200 * KiB);
    await(dead.intendCommit("acme/app", "request:stored", "session:one", digest(stored)));
    await(dead.intendCommit("acme/app", "request:lost", "session:two", digest(neverStored)));
    assertThat(proxy.harness().direct().pushBlob("acme/app", stored).status()).as("stored by the registry, never charged").isEqualTo(201);
    Thread.sleep(10); // past the dead store's 1 ms leases: time must pass, and nothing in Redis signals a lapse

    assertThat(await(intents.checkOnce())).isEqualTo(2);

    assertThat(await(proxy.store().scope("acme/app")).used()).isEqualTo(KiB + 300 * KiB);
    assertThat(proxy.harness().redis().command(Request.cmd(Command.HLEN).arg(QuotaKeys.of("acme").commits())).toLong()).isZero();
    StorageInvariant.check(proxy.harness().registry().storage(), proxy.stores());
  }

  @Test
  void aBlobOrManifestTheRegistryDeletedForADeadProxyIsDroppedAndOneItKeptStaysCharged() throws Exception {
    OciTestClient.Image image = OciTestClient.image(randomBytes(200 * KiB));
    assertThat(proxy.client().pushImage("acme/web", "1", image).status()).isEqualTo(201);
    byte[] loose = randomBytes(100 * KiB);
    byte[] kept = randomBytes(50 * KiB);
    assertThat(proxy.client().pushBlob("acme/app", loose).status()).isEqualTo(201);
    assertThat(proxy.client().pushBlob("acme/app", kept).status()).isEqualTo(201);
    await(dead.intendDelete("acme/app", "request:del-loose", digest(loose), false));
    await(dead.intendDelete("acme/app", "request:del-kept", digest(kept), false));
    await(dead.intendDelete("acme/web", "request:del-manifest", image.manifestDigest(), true));
    OciTestClient.Image keptImage = OciTestClient.image(randomBytes(60 * KiB));
    assertThat(proxy.client().pushImage("acme/kept", "1", keptImage).status()).isEqualTo(201);
    await(dead.intendDelete("acme/kept", "request:del-kept-manifest", keptImage.manifestDigest(), true));
    assertThat(proxy.harness().direct().delete("/v2/acme/app/blobs/" + digest(loose)).status()).isEqualTo(202);
    assertThat(proxy.harness().direct().delete("/v2/acme/web/manifests/" + image.manifestDigest()).status()).isEqualTo(202);
    Thread.sleep(10); // past the dead store's 1 ms leases: time must pass, and nothing in Redis signals a lapse

    assertThat(await(intents.checkOnce())).isEqualTo(4);

    assertThat(await(proxy.store().scope("acme/app")).used()).isEqualTo(50 * KiB);
    assertThat(await(proxy.store().scope("acme/kept")).used()).as("a manifest the registry kept stays charged").isPositive();
    assertThat(proxy.harness().redis().command(Request.cmd(Command.HLEN).arg(QuotaKeys.of("acme").commits())).toLong()).isZero();
    StorageInvariant.check(proxy.harness().registry().storage(), proxy.stores());
  }

  @Test
  void aManifestTheRegistryStoredForADeadProxyIsChargedWithItsReferences() throws Exception {
    OciTestClient.Image image = OciTestClient.image(randomBytes(200 * KiB), randomBytes(100 * KiB));
    assertThat(proxy.harness().direct().pushImage("acme/app", "1", image).status()).as("stored by the registry, never charged")
        .isEqualTo(201);
    List<Blob> references = new ArrayList<>();
    references.add(new Blob(digest(image.config()), image.config().length));
    for (byte[] layer : image.layers()) {
      references.add(new Blob(digest(layer), layer.length));
    }
    byte[] manifest = image.manifest().getBytes(StandardCharsets.UTF_8);
    await(dead.intendManifest("acme/app", "request:manifest", new Blob(image.manifestDigest(), manifest.length), references));
    Thread.sleep(10); // past the dead store's 1 ms leases: time must pass, and nothing in Redis signals a lapse

    assertThat(await(intents.checkOnce())).isEqualTo(1);

    StorageInvariant.check(proxy.harness().registry().storage(), proxy.stores());
    assertThat(await(proxy.store().scope("acme/app")).used()).isEqualTo(300 * KiB + image.config().length + manifest.length);
  }

  /**
   * The registry stores a blob, a manifest, a mount, and the connection breaks before its 201 reaches the
   * proxy: the client gets 502, and the request's intent stays until it lapses, when the registry is asked
   * and what it holds is charged.
   */
  @Test
  void whatTheRegistryStoredButNeverAnsweredIsChargedOnceTheIntentLapses() throws Exception {
    try (AnswerDroppingRelay relay = AnswerDroppingRelay.start(proxy.harness().vertx(), proxy.harness().registry().url())) {
      Deployed cut = behind(relay, "1s");
      byte[] blob = randomBytes(300 * KiB);
      OciTestClient.Image image = OciTestClient.image(randomBytes(100 * KiB));
      assertThat(cut.client().pushBlob("acme/app", image.config()).status()).isEqualTo(201);
      assertThat(cut.client().pushBlob("acme/app", image.layers()[0]).status()).isEqualTo(201);

      relay.dropNextCreated();
      assertThat(cut.client().pushBlob("acme/app", blob).status()).as("the blob's 201 never came").isEqualTo(502);
      relay.dropNextCreated();
      assertThat(cut.client().putManifest("acme/app", "1", image.manifest()).status()).as("the manifest's 201 never came").isEqualTo(502);
      relay.dropNextCreated();
      assertThat(cut.client().mount("acme/other", digest(blob), "acme/app").status()).as("the mount's 201 never came").isEqualTo(502);
      assertThat(proxy.harness().direct().head("/v2/acme/app/blobs/" + digest(blob)).status()).as("stored all the same").isEqualTo(200);

      // Until the intents' one-second leases have run out, each check settles what has lapsed so far.
      settleUntil(intents, 3);
      StorageInvariant.check(proxy.harness().registry().storage(), cut.stores());
      assertThat(await(cut.store().scope("acme/other")).used()).isEqualTo(300 * KiB);
    }
  }

  /**
   * Redis loses the intents of requests whose 201 never came (a flush, or an older snapshot that brings them
   * back unconfirmed, to be dropped): the proxy that sent them still holds them, and settles them with the
   * registry a few seconds after they ended. Without its own copy, the manifest and blob the registry
   * stored would never be charged, and the scope would pass its limit uncounted.
   */
  @Test
  void whatTheRegistryStoredForARequestWhoseIntentRedisLostIsChargedFromTheProxysOwnCopy() throws Exception {
    try (AnswerDroppingRelay relay = AnswerDroppingRelay.start(proxy.harness().vertx(), proxy.harness().registry().url())) {
      Deployed cut = behind(relay, "1h");
      byte[] blob = randomBytes(300 * KiB);
      OciTestClient.Image image = OciTestClient.image(randomBytes(100 * KiB));
      assertThat(cut.client().pushBlob("acme/app", image.config()).status()).isEqualTo(201);
      assertThat(cut.client().pushBlob("acme/app", image.layers()[0]).status()).isEqualTo(201);
      relay.dropNextCreated();
      assertThat(cut.client().pushBlob("acme/app", blob).status()).as("the blob's 201 never came").isEqualTo(502);
      relay.dropNextCreated();
      assertThat(cut.client().putManifest("acme/app", "1", image.manifest()).status()).as("the manifest's 201 never came").isEqualTo(502);
      proxy.harness().redis().command(Request.cmd(Command.DEL).arg(QuotaKeys.of("acme").commits()));

      RegistryIntents own = proxy.intents(cut.stores());
      settleUntil(own, 2);
      StorageInvariant.check(proxy.harness().registry().storage(), cut.stores());
      assertThat(await(cut.store().scope("acme/app")).used())
          .isEqualTo(300 * KiB + 100 * KiB + image.config().length + image.manifest().getBytes(StandardCharsets.UTF_8).length);
    }
  }

  /**
   * A blob's 201 never came, so its charge is left to its intent; before that is settled, a manifest that
   * references the blob is pushed (charging it) and deleted (freeing it). The registry keeps the blob's link,
   * but it is no longer usage: the late settlement must not charge it again.
   */
  @Test
  void aBlobFreedAfterItsRequestEndedUnsettledIsNotChargedAgainWhenTheIntentIsSettled() throws Exception {
    try (AnswerDroppingRelay relay = AnswerDroppingRelay.start(proxy.harness().vertx(), proxy.harness().registry().url())) {
      Deployed cut = behind(relay, "1h");
      OciTestClient.Image image = OciTestClient.image(randomBytes(100 * KiB));
      assertThat(cut.client().pushBlob("acme/app", image.config()).status()).isEqualTo(201);
      relay.dropNextCreated();
      assertThat(cut.client().pushBlob("acme/app", image.layers()[0]).status()).as("the layer's 201 never came").isEqualTo(502);
      assertThat(cut.client().putManifest("acme/app", "1", image.manifest()).status()).isEqualTo(201);
      assertThat(cut.client().delete("/v2/acme/app/manifests/" + image.manifestDigest()).status()).isEqualTo(202);
      long freed = await(cut.store().scope("acme/app")).used();

      RegistryIntents own = proxy.intents(cut.stores());
      settleUntil(own, 1);
      assertThat(await(cut.store().scope("acme/app")).used()).as("nothing charged again").isEqualTo(freed);
      StorageInvariant.check(proxy.harness().registry().storage(), cut.stores());
    }
  }

  /** A second proxy, for acme with a 10 MiB hard limit, whose registry answers go through {@code relay}. */
  private Deployed behind(AnswerDroppingRelay relay, String reservationTtl) throws Exception {
    return proxy.harness().startProxy("""
        quota:
          reservation-ttl: %s
          scopes:
            acme: {storage-hard: 10MiB}
        """.formatted(reservationTtl), "--upstream", relay.url());
  }

  /** Checks until {@code expected} intents are settled: each check settles what is due so far. */
  private static void settleUntil(RegistryIntents intents, int expected) throws InterruptedException {
    AtomicInteger settled = new AtomicInteger();
    eventually(Duration.ofSeconds(15), Duration.ofMillis(200),
        () -> assertThat(settled.addAndGet(await(intents.checkOnce()))).as("intents settled").isEqualTo(expected));
  }

  @Test
  void anIntentWhoseRequestIsStillRenewedIsLeftAlone() throws Exception {
    assertThat(proxy.client().pushBlob("acme/app", randomBytes(KiB)).status()).isEqualTo(201);
    await(proxy.store().intendCommit("acme/app", "request:alive", null, digest(randomBytes(KiB))));

    assertThat(await(intents.checkOnce())).isZero();
    assertThat(proxy.harness().redis().command(Request.cmd(Command.HLEN).arg(QuotaKeys.of("acme").commits())).toLong()).isEqualTo(1);
  }

  @Test
  void aRequestThatEndsTakesItsIntentWithIt() throws Exception {
    assertThat(proxy.client().pushBlob("acme/app", randomBytes(KiB)).status()).isEqualTo(201);
    assertThat(proxy.client().pushBlobChunked("acme/app", randomBytes(KiB)).status()).isEqualTo(201);
    byte[] deleted = randomBytes(KiB);
    assertThat(proxy.client().pushBlob("acme/app", deleted).status()).isEqualTo(201);
    assertThat(proxy.client().delete("/v2/acme/app/blobs/" + digest(deleted)).status()).isEqualTo(202);
    assertThat(proxy.client().delete("/v2/acme/app/blobs/" + digest(randomBytes(KiB))).status()).as("nothing to delete").isEqualTo(404);

    assertThat(proxy.harness().redis().command(Request.cmd(Command.HLEN).arg(QuotaKeys.of("acme").commits())).toLong())
        .as("no intent left by pushes that finished").isZero();
  }
}
