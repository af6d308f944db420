package dev.quotaproxy.proxy;

import static dev.quotaproxy.proxy.support.OciTestClient.digest;
import static dev.quotaproxy.proxy.support.OciTestClient.image;
import static dev.quotaproxy.proxy.support.OciTestClient.randomBytes;
import static dev.quotaproxy.testing.Eventually.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.quotaproxy.ledger.EmbeddedPostgresServer;
import dev.quotaproxy.metering.sync.LedgerBinding;
import dev.quotaproxy.metering.sync.RegistryIntents;
import dev.quotaproxy.metering.EvictionPolicy;
import dev.quotaproxy.metering.QuotaKeys;
import dev.quotaproxy.metering.RequestLeases;
import dev.quotaproxy.oci.Blob;
import dev.quotaproxy.metering.support.StoreOnRedis;
import dev.quotaproxy.proxy.support.RawHttp;
import dev.quotaproxy.proxy.support.RegistryStorage;
import dev.quotaproxy.proxy.support.ScopeWatch;
import dev.quotaproxy.proxy.support.StorageInvariant;
import dev.quotaproxy.proxy.support.OciTestClient.Image;
import dev.quotaproxy.proxy.support.ProxyFixture;
import dev.quotaproxy.proxy.support.QuotaHarness.Deployed;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Redis loses its data while the proxy runs: pushes wait for (or, without the ledger, are refused until) the rebuild. */
class RedisLossTest {
  private static final int KiB = 1024;

  @RegisterExtension final ProxyFixture proxy = ProxyFixture.acme("4MiB").withLedger();

  @Test
  void afterRedisIsFlushedUsageIsRebuiltFromTheLedgerBeforeAnyPushIsDecided() throws Exception {
    Image first = image(randomBytes(600 * KiB), randomBytes(300 * KiB));
    assertThat(proxy.client().pushImage("acme/app", "1", first).status()).isEqualTo(201);
    assertThat(proxy.client().pushImage("acme/web", "1", image(first.layers()[0])).status()).isEqualTo(201);
    drainFeed();
    Map<String, Long> before = usage("acme", "acme/app", "acme/web");

    proxy.harness().redis().flushAll();
    await(proxy.configured().refresh()); // limits written again from the configuration

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
    long before = await(proxy.store().scope("acme")).used();
    int port = proxy.ledger().postgres().port();
    proxy.ledger().postgres().close();
    proxy.harness().redis().flushAll();

    assertThat(proxy.client().pushBlob("acme/app", randomBytes(KiB)).status()).as("no rebuild possible: fail closed").isEqualTo(503);
    assertThat(proxy.client().get("/v2/acme/app/blobs/" + dev.quotaproxy.proxy.support.OciTestClient.digest(layer)).status())
        .as("pulls unaffected").isEqualTo(200);

    EmbeddedPostgresServer restarted = EmbeddedPostgresServer.start(proxy.postgresData(), port, false);
    try {
      assertThat(proxy.client().pushBlob("acme/app", randomBytes(KiB)).status()).isEqualTo(201);
      assertThat(await(proxy.store().scope("acme")).used()).isEqualTo(before + KiB);
    } finally {
      restarted.close();
    }
  }

  @Test
  void theWatchRestoresANamespaceFromAnOlderRedisWithoutWaitingForAPush() throws Exception {
    assertThat(proxy.client().pushBlob("acme/app", randomBytes(300 * KiB)).status()).isEqualTo(201);
    drainFeed();
    long before = await(proxy.store().scope("acme")).used();
    proxy.harness().redis().flushAll();

    await(proxy.ledger().watch().watchOnce());

    assertThat(await(proxy.store().scope("acme")).used()).isEqualTo(before);
  }

  /**
   * The watch's look at a namespace's stream fails (here Redis refuses XINFO; in a run on a Redis Cluster, a
   * full connection pool): that is not a stream older than the ledger's, and the healthy namespace is not
   * restored (which would refuse its pushes meanwhile, and reconcile after a loss that never was).
   */
  @Test
  void aWatchThatCannotReadAStreamRestoresNothing() throws Exception {
    assertThat(proxy.client().pushBlob("acme/app", randomBytes(100 * KiB)).status()).isEqualTo(201);
    drainFeed();
    List<String> restored = new java.util.concurrent.CopyOnWriteArrayList<>();
    proxy.ledger().recovery().followLosses(restored::add);
    proxy.harness().redis().command(Request.cmd(Command.ACL).arg("SETUSER").arg("default").arg("-xinfo"));
    try {
      await(proxy.ledger().watch().watchOnce());
    } finally {
      proxy.harness().redis().command(Request.cmd(Command.ACL).arg("SETUSER").arg("default").arg("+xinfo"));
    }
    assertThat(restored).as("namespaces restored for a loss").isEmpty();

    // Once the stream can be read, a real loss is still found.
    proxy.harness().redis().flushAll();
    await(proxy.ledger().watch().watchOnce());
    assertThat(restored).containsExactly("acme");
  }

  /**
   * A Redis flushed and then claimed by a process of another ledger (a second proxy on its own
   * Postgres): this proxy must not restore its ledger over it, nor decide pushes on it, nor feed its
   * events into this proxy.ledger(). Once the claim is gone (an operator deleted the key), it restores again.
   */
  @Test
  void aRedisClaimedByAnotherLedgerIsNeitherRestoredOverNorFedFrom() throws Exception {
    assertThat(proxy.client().pushBlob("acme/app", randomBytes(300 * KiB)).status()).isEqualTo(201);
    drainFeed();
    long before = await(proxy.store().scope("acme")).used();
    proxy.harness().redis().flushAll();
    proxy.harness().redis().command(Request.cmd(Command.SET).arg(QuotaKeys.LEDGER).arg("another-ledger"));

    assertThatThrownBy(() -> await(proxy.ledger().watch().watchOnce()))
        .isInstanceOf(LedgerBinding.OtherLedgerException.class);
    assertThat(proxy.client().pushBlob("acme/app", randomBytes(KiB)).status()).as("no state to decide on").isEqualTo(503);
    assertThatThrownBy(() -> await(proxy.ledger().feed().feedIfLeading()))
        .hasMessageContaining("this Redis belongs to ledger another-ledger");
    assertThat(proxy.harness().redis().command(Request.cmd(Command.EXISTS).arg("qp:ledger-lease")).toLong()).as("lease given back")
        .isZero();
    assertThat(proxy.harness().redis().command(Request.cmd(Command.GET).arg(QuotaKeys.of("acme").epoch()))).isNull();

    proxy.harness().redis().command(Request.cmd(Command.DEL).arg(QuotaKeys.LEDGER));
    await(proxy.ledger().watch().watchOnce());
    assertThat(await(proxy.store().scope("acme")).used()).isEqualTo(before);
    assertThat(proxy.harness().redis().command(Request.cmd(Command.GET).arg(QuotaKeys.LEDGER)).toString())
        .isEqualTo(await(proxy.ledger().ledger().redisEpoch()));
  }

  /**
   * The first finding: after a flush, namespaces were never listed again, so the feed stopped
   * reading their streams and later pushes and deletes never reached the proxy.ledger().
   */
  @Test
  void afterAFlushLaterPushesAndDeletesStillReachTheLedger() throws Exception {
    Image first = image(randomBytes(300 * KiB));
    assertThat(proxy.client().pushImage("acme/app", "1", first).status()).isEqualTo(201);
    drainFeed();
    proxy.harness().redis().flushAll();

    Image second = image(randomBytes(200 * KiB));
    assertThat(proxy.client().pushImage("acme/app", "2", second).status()).isEqualTo(201);
    byte[] loose = randomBytes(100 * KiB);
    assertThat(proxy.client().pushBlob("acme/tools", loose).status()).isEqualTo(201);
    assertThat(proxy.client().delete("/v2/acme/tools/blobs/" + digest(loose)).status()).isEqualTo(202);
    drainFeed();

    assertThat(members(QuotaKeys.NAMESPACES)).contains("acme");
    assertLedgerRedisAndRegistryAgree("acme", "acme/app", "acme/tools");
  }

  /**
   * A namespace the ledger has no event of yet (its limits set, nothing pushed) is marked new after a flush, with no
   * stream position to restore: the feed, which had made its consumer group before, must make it again rather than
   * fail every pass (one NOGROUP fails the pipelined reads of every namespace).
   */
  @Test
  void aNamespaceWithNoEventInTheLedgerYetIsStillFedAfterAFlush() throws Exception {
    drainFeed(); // the feed has made acme's group
    proxy.harness().redis().flushAll();
    await(proxy.configured().refresh());

    byte[] blob = randomBytes(100 * KiB);
    assertThat(proxy.client().pushBlob("acme/app", blob).status()).isEqualTo(201);
    drainFeed();

    assertLedgerRedisAndRegistryAgree("acme", "acme/app");
    StorageInvariant.check(proxy.harness().registry().storage(), proxy.stores());
  }

  /**
   * A commit whose answer never reached the proxy is left to its intent; before that is settled, a manifest that
   * references the blob is pushed (charging it) and deleted (freeing it, though the registry keeps the blob's
   * link), and Redis loses its data. The late settlement must still see the free (the ledger's, written back by the
   * restore) and not charge the blob again: before, the free was gone with Redis, the blob was charged twice for
   * good, and no reconciliation took it back (the registry does link it).
   */
  @Test
  void aBlobFreedBeforeRedisLostItsDataIsNotChargedAgainByALateSettlement() throws Exception {
    Image image = image(randomBytes(100 * KiB));
    byte[] layer = image.layers()[0];
    assertThat(proxy.client().pushBlob("acme/app", image.config()).status()).isEqualTo(201);
    // As a commit the registry carried out whose answer never came back: stored, its outcome not recorded.
    assertThat(new dev.quotaproxy.proxy.support.OciTestClient(proxy.harness().registry().url()).pushBlob("acme/app", layer).status())
        .isEqualTo(201);
    await(proxy.store().intendCommit("acme/app", "request:lost-answer", null, digest(layer)));
    proxy.store().requestEnded("request:lost-answer");
    assertThat(proxy.client().putManifest("acme/app", "1", image.manifest()).status()).isEqualTo(201);
    assertThat(proxy.client().delete("/v2/acme/app/manifests/" + image.manifestDigest()).status()).isEqualTo(202);
    long freed = await(proxy.store().scope("acme/app")).used();
    drainFeed();

    proxy.harness().redis().flushAll();
    await(proxy.configured().refresh());
    await(proxy.ledger().watch().watchOnce()); // restored from the ledger

    RegistryIntents own = proxy.intents();
    java.util.concurrent.atomic.AtomicInteger settled = new java.util.concurrent.atomic.AtomicInteger();
    dev.quotaproxy.testing.Eventually.eventually(java.time.Duration.ofSeconds(15), java.time.Duration.ofMillis(200),
        () -> assertThat(settled.addAndGet(await(own.checkOnce()))).as("intents settled").isPositive());
    assertThat(await(proxy.store().scope("acme/app")).used()).as("nothing charged again").isEqualTo(freed);
    drainFeed();
    StorageInvariant.check(proxy.harness().registry().storage(), proxy.stores());
    assertLedgerRedisAndRegistryAgree("acme", "acme/app");
  }

  /** Events still in the stream when Redis lost it reach the ledger from the proxy's copy, without waiting for a push. */
  @Test
  void eventsRedisLostBeforeTheFeedReadThemReachTheLedgerFromTheProxysCopy() throws Exception {
    assertThat(proxy.client().pushImage("acme/app", "1", image(randomBytes(300 * KiB))).status()).isEqualTo(201);
    proxy.harness().redis().flushAll();

    // The outbox's own check, as it runs every second once the events are older than its grace.
    await(proxy.ledger().outbox().check(proxy.ledger().recovery()::restoreFromLedger, System.currentTimeMillis() + 60_000));

    assertThat(proxy.ledger().outbox().recovered()).isPositive();
    assertThat(proxy.ledger().outbox().size()).isZero();
    assertLedgerRedisAndRegistryAgree("acme", "acme/app");
  }

  /** Redis restarted without persistence: data gone, scripts forgotten, every connection dropped. */
  @Test
  void aRestartWithoutPersistenceLosesNothing() throws Exception {
    assertThat(proxy.client().pushImage("acme/app", "1", image(randomBytes(300 * KiB))).status()).isEqualTo(201);
    proxy.harness().redis().command(Request.cmd(Command.SCRIPT).arg("FLUSH"));
    proxy.harness().redis().command(Request.cmd(Command.FLUSHDB));
    proxy.harness().redis().command(Request.cmd(Command.CLIENT).arg("KILL").arg("TYPE").arg("normal").arg("SKIPME").arg("yes"));

    long started = System.nanoTime();
    assertThat(proxy.client().pushImage("acme/app", "2", image(randomBytes(200 * KiB))).status()).isEqualTo(201);
    System.out.printf("RedisLossTest: the first push after the restart took %d ms (its namespace restored, then a second's wait "
        + "for reservations in flight)%n", (System.nanoTime() - started) / 1_000_000);
    drainFeed();

    assertLedgerRedisAndRegistryAgree("acme", "acme/app");
  }

  /**
   * Redis came back from an older snapshot: every key as it was before the last pushes (DUMP, then
   * RESTORE after a flush), markers included. The stream ends before the ledger's position: the watch
   * restores the namespace, and what the ledger had not read yet comes from the proxy's copy.
   */
  @Test
  void aRedisFromAnOlderSnapshotIsFoundAndRestored() throws Exception {
    assertThat(proxy.client().pushImage("acme/app", "1", image(randomBytes(300 * KiB))).status()).isEqualTo(201);
    drainFeed();
    Map<String, Object> snapshot = dumpAll();
    assertThat(proxy.client().pushImage("acme/app", "2", image(randomBytes(200 * KiB))).status()).isEqualTo(201);
    drainFeed();
    assertThat(proxy.client().pushImage("acme/app", "3", image(randomBytes(100 * KiB))).status()).isEqualTo(201);
    drainFeed();

    proxy.harness().redis().flushAll();
    restoreAll(snapshot);
    await(proxy.ledger().watch().watchOnce());
    drainFeed();

    assertLedgerRedisAndRegistryAgree("acme", "acme/app");
  }

  /**
   * Redis goes back to an older snapshot and takes a write before anything looks, through a proxy that started
   * since (so it has seen no number to hold the state to): the write's stream id is new, so the stream no
   * longer looks older than the ledger; its number does. The older state had not seen image 2, so it charged
   * image 2's blobs to acme a second time: the ledger recounts acme from its links instead of trusting that
   * charge, and Redis is restored, with no state watch involved.
   */
  @Test
  void writesOnARedisFromAnOlderSnapshotNeitherHideItNorCountTwice() throws Exception {
    Image second = redisGoesBackToBeforeASecondImage();
    Deployed started = proxy.harness().startProxy("""
        quota:
          scopes:
            acme: {storage-hard: 4MiB}
        """);

    assertThat(started.client().pushImage("acme/other", "2", second).status()).isEqualTo(201);
    drainFeed();

    assertLedgerRedisAndRegistryAgree("acme", "acme/app", "acme/other");
  }

  /**
   * Redis goes back to an older snapshot, and the next request is a delete of a manifest pushed after it (and
   * already in the ledger): the older state has never heard of it, and would free nothing. This proxy saw the
   * namespace's events numbered further than that state, so the delete's script finds the state unknown, the
   * namespace is restored from the ledger (with this proxy's copy of events) first, and the delete frees what
   * it must.
   */
  @Test
  void noDecisionIsMadeOnAnOlderStateThanThisProxySaw() throws Exception {
    Image second = redisGoesBackToBeforeASecondImage();

    assertThat(proxy.client().delete("/v2/acme/app/manifests/" + second.manifestDigest()).status()).isEqualTo(202);
    drainFeed();

    assertLedgerRedisAndRegistryAgree("acme", "acme/app");
    assertThat(await(proxy.store().scope("acme/app")).used()).as("image 2 freed").isLessThan(300 * KiB + 10 * KiB);
  }

  /**
   * An older snapshot brings back the intent of a request that finished after it: here a layer's commit,
   * whose manifest was deleted since, so the layer is freed though the registry keeps its link. Settled again,
   * the intent would find the layer at the registry and charge it a second time; the restore marks it
   * unconfirmed, no proxy renews it, and it is dropped when it lapses.
   */
  @Test
  void anIntentAnOlderSnapshotBringsBackIsNotSettledAgain() throws Exception {
    String commits = QuotaKeys.of("acme").commits();
    Image image = image(randomBytes(300 * KiB));
    assertThat(proxy.client().pushImage("acme/app", "1", image).status()).isEqualTo(201);
    assertThat(proxy.client().delete("/v2/acme/app/manifests/" + image.manifestDigest()).status()).isEqualTo(202);
    drainFeed();
    StoreOnRedis finished = StoreOnRedis.open(proxy.harness().vertx(), proxy.harness().redis().url(), 2, java.time.Duration.ofMillis(1));
    await(finished.store().intendCommit("acme/app", "request:finished-long-ago", null, digest(image.layers()[0])));
    String saved = proxy.harness().redis().command(Request.cmd(Command.HGET).arg(commits).arg("request:finished-long-ago")).toString();
    // The request ends (its intent closed, in the ledger too); then an older snapshot brings its intent back.
    await(finished.store().release("acme/app", "request:finished-long-ago", -1));
    drainFeed();
    proxy.harness().redis().command(Request.cmd(Command.HSET).arg(commits).arg("request:finished-long-ago").arg(saved));
    RegistryIntents intents = proxy.intents();

    await(proxy.ledger().recovery().restoreFromLedger("acme"));
    Thread.sleep(10); // past the intent's 1 ms lease: time must pass, and nothing in Redis signals a lapse

    assertThat(await(intents.checkOnce())).as("settled none").isZero();
    assertThat(proxy.harness().redis().command(Request.cmd(Command.HLEN).arg(QuotaKeys.of("acme").commits())).toLong()).as("dropped")
        .isZero();
    assertLedgerRedisAndRegistryAgree("acme", "acme/app");
    await(finished.close());
  }

  /**
   * The double fault the proxy's own copy of an intent cannot cover: a proxy dies with a manifest PUT in flight
   * (its intent only in Redis), the registry stores the manifest, and Redis loses its data within the intent's
   * lease. The intent was journalled in the ledger (intent_opened); the restore writes it back with a fresh lease,
   * not unconfirmed, and once that runs out the registry is asked and the manifest charged.
   */
  @Test
  void theIntentOfADeadProxysRequestComesBackFromTheLedgerWhenRedisLosesItsData() throws Exception {
    Image image = image(randomBytes(200 * KiB), randomBytes(100 * KiB));
    assertThat(proxy.client().pushBlob("acme/app", image.config()).status()).isEqualTo(201);
    List<Blob> references = new ArrayList<>(List.of(new Blob(digest(image.config()), image.config().length)));
    for (byte[] layer : image.layers()) {
      assertThat(proxy.client().pushBlob("acme/app", layer).status()).isEqualTo(201);
      references.add(new Blob(digest(layer), layer.length));
    }
    byte[] manifest = image.manifest().getBytes(StandardCharsets.UTF_8);
    StoreOnRedis dead = StoreOnRedis.open(proxy.harness().vertx(), proxy.harness().redis().url(), 2, java.time.Duration.ofMillis(1));
    await(dead.store().intendManifest("acme/app", "request:manifest", new Blob(image.manifestDigest(), manifest.length), references));
    assertThat(proxy.harness().direct().putManifest("acme/app", "1", image.manifest()).status()).as("stored by the registry, never charged")
        .isEqualTo(201);
    drainFeed();
    assertThat(await(proxy.ledger().ledger().openIntents("acme"))).as("journalled").containsOnlyKeys("request:manifest");

    proxy.harness().redis().flushAll();
    await(proxy.configured().refresh());
    assertThat(proxy.client().pushBlob("acme/other", randomBytes(KiB)).status()).as("decided once the namespace is restored")
        .isEqualTo(201);

    String commits = QuotaKeys.of("acme").commits();
    Response restored = proxy.harness().redis().command(Request.cmd(Command.HGET).arg(commits).arg("request:manifest"));
    assertThat(restored).as("the intent written back by the restore").isNotNull();
    JsonObject intent = new JsonObject(restored.toString());
    assertThat(intent.containsKey("unconfirmed")).as("the ledger holds it open: not to be dropped").isFalse();
    assertThat(Long.parseLong(intent.getString("until"))).as("a whole lease from the restore")
        .isGreaterThan(System.currentTimeMillis() + RequestLeases.REQUEST_LEASE_MILLIS - 10_000);
    assertThat(intent.getString("what")).isEqualTo("commit_manifest");
    // Its proxy is dead and renews nothing: its lease (30 s) runs out, here aged rather than waited for.
    proxy.harness().redis().command(Request.cmd(Command.HSET).arg(commits).arg("request:manifest").arg(intent.put("until", "1").encode()));

    assertThat(await(proxy.intents().checkOnce())).isEqualTo(1);

    StorageInvariant.check(proxy.harness().registry().storage(), proxy.stores());
    assertThat(await(proxy.store().scope("acme/app")).used()).isEqualTo(300 * KiB + image.config().length + manifest.length);
    drainFeed();
    assertThat(await(proxy.ledger().ledger().openIntents("acme"))).as("settled: closed in the ledger too").isEmpty();
    assertLedgerRedisAndRegistryAgree("acme", "acme/app");
    await(dead.close());
  }

  /** Blob commits, a manifest PUT and deletes each record an intent: every one ends closed in the ledger too. */
  @Test
  void requestsThatEndLeaveNoIntentOpenInTheLedger() throws Exception {
    Image image = image(randomBytes(100 * KiB), randomBytes(50 * KiB));
    assertThat(proxy.client().pushImage("acme/app", "1", image).status()).isEqualTo(201);
    assertThat(proxy.client().mount("acme/web", digest(image.layers()[0]), "acme/app").status()).isEqualTo(201);
    assertThat(proxy.client().delete("/v2/acme/app/manifests/" + image.manifestDigest()).status()).isEqualTo(202);
    assertThat(proxy.client().delete("/v2/acme/web/blobs/" + digest(image.layers()[0])).status()).isEqualTo(202);
    Map<String, String> intentEvents = new java.util.TreeMap<>();
    for (Response entry : proxy.harness().redis()
        .command(Request.cmd(Command.XRANGE).arg(QuotaKeys.of("acme").events()).arg("-").arg("+"))) {
      Response fields = entry.get(1);
      for (int i = 0; i + 1 < fields.size(); i += 2) {
        if (fields.get(i).toString().equals("type") && fields.get(i + 1).toString().startsWith("intent_")) {
          intentEvents.put("acme/" + entry.get(0), fields.get(i + 1).toString());
        }
      }
    }
    assertThat(java.util.Collections.frequency(intentEvents.values(), "intent_opened"))
        .as("three blob commits, a manifest PUT, a mount, two deletes").isGreaterThanOrEqualTo(7);
    assertThat(java.util.Collections.frequency(intentEvents.values(), "intent_closed"))
        .isEqualTo(java.util.Collections.frequency(intentEvents.values(), "intent_opened"));

    drainFeed();

    assertThat(await(proxy.ledger().ledger().recorded(intentEvents.keySet()))).as("every one applied")
        .containsExactlyInAnyOrderElementsOf(intentEvents.keySet());
    assertThat(await(proxy.ledger().ledger().openIntents("acme"))).isEmpty();
  }

  @Test
  void oneNamespacesKeysDeletedByHandAreRestored() throws Exception {
    assertThat(proxy.client().pushImage("acme/app", "1", image(randomBytes(300 * KiB))).status()).isEqualTo(201);
    assertThat(proxy.client().pushImage("globex/web", "1", image(randomBytes(100 * KiB))).status()).isEqualTo(201);
    drainFeed();
    for (Response key : proxy.harness().redis().command(Request.cmd(Command.KEYS).arg("qp:{acme}:*"))) {
      proxy.harness().redis().command(Request.cmd(Command.DEL).arg(key.toString()));
    }

    await(proxy.ledger().watch().watchOnce());

    assertLedgerRedisAndRegistryAgree("acme", "acme/app");
    assertThat(await(proxy.store().scope("acme")).limits().storageHard()).as("its limits too").isEqualTo(4 * 1024 * KiB);
  }

  /** What a repository links itself (links:R) comes back from the ledger apart from its scope's counts. */
  @Test
  void aRepositoryNamedLikeAnothersScopeStillHoldsItsBlobsAfterARestore() throws Exception {
    byte[] blob = randomBytes(300 * KiB);
    assertThat(proxy.client().pushBlob("acme/app/sub", blob).status()).isEqualTo(201);
    assertThat(proxy.client().pushBlob("acme/app", blob).status()).isEqualTo(201);
    drainFeed();
    proxy.harness().redis().flushAll();
    await(proxy.configured().refresh());

    assertThat(proxy.client().delete("/v2/acme/app/sub/blobs/" + digest(blob)).status()).isEqualTo(202);
    drainFeed();

    assertThat(members(QuotaKeys.of("acme").links("acme/app"))).containsExactly(digest(blob));
    assertLedgerRedisAndRegistryAgree("acme", "acme/app", "acme/app/sub");
    assertThat(await(proxy.store().scope("acme/app")).used()).isEqualTo(300 * KiB);
  }

  /**
   * State written in the layout before links:R (its marker qp:{T}:epoch) is not taken for known: the first
   * decision restores the namespace from the ledger in the current layout, and the old marker goes.
   */
  @Test
  void stateInAnEarlierLayoutIsRestoredFromTheLedgerOnTheFirstDecision() throws Exception {
    byte[] blob = randomBytes(300 * KiB);
    assertThat(proxy.client().pushBlob("acme/app/sub", blob).status()).isEqualTo(201);
    assertThat(proxy.client().pushBlob("acme/app", blob).status()).isEqualTo(201);
    drainFeed();
    QuotaKeys keys = QuotaKeys.of("acme");
    // As the earlier layout left it: the same counts and usage, no links, the marker under its old name.
    proxy.harness().redis().command(Request.cmd(Command.RENAME).arg(keys.epoch()).arg(keys.legacyEpoch()));
    for (Response key : proxy.harness().redis().command(Request.cmd(Command.KEYS).arg(keys.every("links")))) {
      proxy.harness().redis().command(Request.cmd(Command.DEL).arg(key.toString()));
    }

    assertThat(proxy.client().delete("/v2/acme/app/sub/blobs/" + digest(blob)).status()).isEqualTo(202);
    drainFeed();

    assertThat(proxy.harness().redis().command(Request.cmd(Command.EXISTS).arg(keys.legacyEpoch())).toLong()).isZero();
    assertThat(members(keys.links("acme/app"))).containsExactly(digest(blob));
    assertLedgerRedisAndRegistryAgree("acme", "acme/app", "acme/app/sub");
    assertThat(await(proxy.store().scope("acme/app")).used()).isEqualTo(300 * KiB);
  }

  @Test
  void theNamespaceListDeletedOnItsOwnIsTakenAgainBeforeSystemUsageIsTrusted() throws Exception {
    assertThat(proxy.client().pushImage("acme/app", "1", image(randomBytes(300 * KiB))).status()).isEqualTo(201);
    drainFeed();
    long used = await(proxy.stores().usage().systemUsage()).used();
    proxy.harness().redis().command(Request.cmd(Command.DEL).arg(QuotaKeys.NAMESPACES));

    assertThat(await(proxy.stores().usage().systemUsage()).used()).isEqualTo(used);
    assertThat(members(QuotaKeys.NAMESPACES)).contains("acme").anyMatch(member -> member.startsWith(QuotaKeys.CENSUS_PREFIX));
  }

  /**
   * The second finding: system usage read 0 after a flush, so a read-only registry took pushes
   * again. Now, until it is summed over a complete list again, pushes get 503; then read-only again.
   */
  @Test
  void aReadOnlyRegistryStaysReadOnlyAfterRedisLosesItsData() throws Exception {
    Deployed limited = proxy.harness().startProxy("""
        quota:
          system:
            hard-storage: 1MiB
            write-ratio: 50%
        """);
    assertThat(limited.client().pushBlob("ro/app", randomBytes(600 * KiB)).status()).isEqualTo(201);
    drainFeed();
    await(limited.configured().refresh());
    assertThat(limited.client().pushBlob("ro/other", randomBytes(KiB)).status()).as("read-only").isEqualTo(403);

    int port = proxy.ledger().postgres().port();
    proxy.ledger().postgres().close();
    proxy.harness().redis().flushAll();
    assertThatThrownBy(() -> await(limited.configured().refresh())).hasMessageContaining("system usage is not known");

    var refused = limited.client().pushBlob("ro/other", randomBytes(KiB));
    assertThat(refused.status()).isEqualTo(503);
    assertThat(refused.header("Retry-After")).isPresent();
    assertThat(refused.body()).contains("system usage is being rebuilt");

    EmbeddedPostgresServer restarted = EmbeddedPostgresServer.start(proxy.postgresData(), port, false);
    try {
      await(limited.configured().refresh());
      assertThat(await(limited.stores().usage().systemUsage()).used()).isGreaterThanOrEqualTo(600 * KiB);
      var again = limited.client().pushBlob("ro/other", randomBytes(KiB));
      assertThat(again.status()).as("read-only again, not writable").isEqualTo(403);
      assertThat(again.body()).contains("registry is read-only");
    } finally {
      restarted.close();
    }
  }

  /**
   * A push in flight when Redis loses its data keeps its room: its proxy re-creates its reservation, and
   * the restored namespace makes new grants wait until it has, so a second push cannot take the room and
   * both land past the limit.
   */
  @Test
  void aPushInFlightWhenRedisLosesItsDataKeepsItsRoom() throws Exception {
    assertThat(proxy.client().pushBlob("acme/app", randomBytes(100 * KiB)).status()).isEqualTo(201);
    drainFeed();
    byte[] big = randomBytes(3 * 1024 * KiB);
    String location = proxy.client().startUpload("acme/app").header("Location").orElseThrow();
    String origin = proxy.client().base();
    String target = RawHttp.target(location) + (location.contains("?") ? "&" : "?") + "digest=" + digest(big);
    try (RawHttp slow = RawHttp.connect(origin);
        ScopeWatch watch = ScopeWatch.start(proxy.harness().vertx(), proxy.harness().redis().url(), proxy.store(), "acme")) {
      slow.head("PUT", target, "Content-Type", "application/octet-stream", "Content-Length", Integer.toString(big.length));
      slow.write(java.util.Arrays.copyOfRange(big, 0, KiB));
      watch.await("acme", state -> state.reserved() >= big.length, "the slow push's reservation", java.time.Duration.ofSeconds(10));

      proxy.harness().redis().flushAll();
      await(proxy.ledger().watch().watchOnce()); // restored at once, not at the next decision

      var second = proxy.client().pushBlob("acme/other", randomBytes(2 * 1024 * KiB));
      assertThat(second.status()).as("the room is the slow push's: %s", second.body()).isEqualTo(403);

      slow.write(java.util.Arrays.copyOfRange(big, KiB, big.length));
      assertThat(slow.read(java.time.Duration.ofSeconds(20)).status()).isEqualTo(201);
    }
    drainFeed();
    StorageInvariant.check(proxy.harness().registry().storage(), proxy.stores());
    assertLedgerRedisAndRegistryAgree("acme", "acme/app");
  }

  @Test
  void anEvictingRedisIsRefused() throws Exception {
    await(EvictionPolicy.check(redisClient()));
    proxy.harness().redis().command(Request.cmd(Command.CONFIG).arg("SET").arg("maxmemory-policy").arg("allkeys-lru"));
    try {
      assertThatThrownBy(() -> await(EvictionPolicy.check(redisClient())))
          .isInstanceOf(EvictionPolicy.EvictingRedisException.class)
          .hasMessageContaining("maxmemory-policy allkeys-lru").hasMessageContaining("set maxmemory-policy noeviction");
    } finally {
      proxy.harness().redis().command(Request.cmd(Command.CONFIG).arg("SET").arg("maxmemory-policy").arg("noeviction"));
    }
  }

  private io.vertx.redis.client.Redis redisClient() {
    return io.vertx.redis.client.Redis.createClient(proxy.harness().vertx(), proxy.harness().redis().url());
  }

  private java.util.Set<String> members(String key) {
    java.util.Set<String> members = new java.util.TreeSet<>();
    proxy.harness().redis().command(Request.cmd(Command.SMEMBERS).arg(key)).forEach(member -> members.add(member.toString()));
    return members;
  }

  /** Per scope: the bytes the registry holds, Redis's charge and the ledger's usage are one figure. */
  private void assertLedgerRedisAndRegistryAgree(String namespace, String... scopes) throws Exception {
    Map<String, Long> ledgerUsage = await(proxy.ledger().ledger().snapshot(namespace)).usage();
    RegistryStorage registry = RegistryStorage.read(proxy.harness().registry().storage());
    java.util.List<String> all = new java.util.ArrayList<>(java.util.List.of(namespace));
    all.addAll(java.util.List.of(scopes));
    for (String scope : all) {
      long held = registry.heldBytes(scope);
      assertThat(await(proxy.store().scope(scope)).used()).as("Redis's charge of %s", scope).isEqualTo(held);
      assertThat(ledgerUsage.getOrDefault(scope, 0L)).as("the ledger's usage of %s", scope).isEqualTo(held);
    }
  }

  /**
   * Image 1 pushed to acme/app and in the ledger, Redis's state saved, image 2 pushed and in the ledger; then
   * Redis goes back to the saved state, as a restart from that RDB snapshot would bring it back.
   */
  private Image redisGoesBackToBeforeASecondImage() throws Exception {
    assertThat(proxy.client().pushImage("acme/app", "1", image(randomBytes(300 * KiB))).status()).isEqualTo(201);
    drainFeed();
    Map<String, Object> snapshot = dumpAll();
    Image second = image(randomBytes(200 * KiB));
    assertThat(proxy.client().pushImage("acme/app", "2", second).status()).isEqualTo(201);
    drainFeed();
    proxy.harness().redis().flushAll();
    restoreAll(snapshot);
    return second;
  }

  /** Every key of Redis as DUMP gives it: what an RDB snapshot taken now would bring back. */
  private Map<String, Object> dumpAll() {
    Map<String, Object> snapshot = new java.util.HashMap<>();
    for (Response key : proxy.harness().redis().command(Request.cmd(Command.KEYS).arg("*"))) {
      snapshot.put(key.toString(), proxy.harness().redis().command(Request.cmd(Command.DUMP).arg(key.toString())).toBuffer());
    }
    return snapshot;
  }

  private void restoreAll(Map<String, Object> snapshot) {
    snapshot.forEach((key, dump) -> proxy.harness().redis().command(
        Request.cmd(Command.RESTORE).arg(key).arg(0).arg((io.vertx.core.buffer.Buffer) dump).arg("REPLACE")));
  }

  private void drainFeed() throws Exception {
    for (int round = 0; round < 100 && await(proxy.ledger().feed().feedOnce()) > 0; round++) {
      // until every event is in the ledger
    }
  }

  private Map<String, Long> usage(String... scopes) throws Exception {
    Map<String, Long> usage = new java.util.HashMap<>();
    for (String scope : scopes) {
      usage.put(scope, await(proxy.store().scope(scope)).used());
    }
    return usage;
  }
}
