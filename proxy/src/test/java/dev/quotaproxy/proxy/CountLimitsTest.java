package dev.quotaproxy.proxy;

import static dev.quotaproxy.proxy.support.OciTestClient.digest;
import static dev.quotaproxy.proxy.support.OciTestClient.image;
import static dev.quotaproxy.proxy.support.OciTestClient.randomBytes;
import static dev.quotaproxy.testing.Eventually.await;
import static dev.quotaproxy.testing.Eventually.eventually;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.metering.ScopeCounts;
import dev.quotaproxy.proxy.support.ConcurrentPushes;
import dev.quotaproxy.proxy.support.ConcurrentPushes.Outcome;
import dev.quotaproxy.proxy.support.ConcurrentPushes.Style;
import dev.quotaproxy.proxy.support.OciTestClient;
import dev.quotaproxy.proxy.support.OciTestClient.Image;
import dev.quotaproxy.proxy.support.OciTestClient.Reply;
import dev.quotaproxy.proxy.support.ProxyFixture;
import dev.quotaproxy.proxy.support.RawHttp;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpRequest.BodyPublishers;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Count limits through the proxy, against the real registry, Redis and Postgres: a push that would make
 * one repository or manifest too many is refused before its bytes move, whichever way it comes (upload,
 * monolithic upload, mount, manifest), 32 clients racing for new repositories end exactly at the limit,
 * a soft count warns, and the counts come back after Redis loses its data. Each test has its namespace.
 */
class CountLimitsTest {
  private static final int KiB = 1024;

  @RegisterExtension static final ProxyFixture proxy = ProxyFixture.of("""
      quota:
        scopes:
          race: {repositories-hard: 10}
          chunked: {repositories-hard: 10}
          mono: {repositories-hard: 1}
          mnt: {repositories-hard: 1}
          man: {manifests-hard: 1}
          soft: {repositories-soft: 1, manifests-soft: 1}
          flush: {repositories-hard: 2}
          idle: {repositories-hard: 1}
          empty: {repositories-hard: 10}
          inflight: {repositories-hard: 2}
      """).withLedger();

  @Test
  void thirtyTwoClientsCreatingRepositoriesAtOnceEndExactlyAtTheLimit() throws Exception {
    race("race", Style.CONTENT_LENGTH);
  }

  /** Chunked (as podman pushes): a new repository's slot is taken by its first increment, and kept by its session. */
  @Test
  void thirtyTwoChunkedClientsCreatingRepositoriesAtOnceEndExactlyAtTheLimit() throws Exception {
    race("chunked", Style.CHUNKED);
  }

  private static void race(String namespace, Style style) throws Exception {
    List<Outcome> outcomes = ConcurrentPushes.race(ConcurrentPushes.pushes(32, 4 * KiB, namespace, List.of(proxy.client().base())),
        style);

    List<Outcome> accepted = outcomes.stream().filter(Outcome::accepted).toList();
    assertThat(accepted).as(ConcurrentPushes.summary(outcomes)).hasSize(10);
    for (Outcome refused : outcomes.stream().filter(o -> !o.accepted()).toList()) {
      assertThat(refused.status()).as("%s", refused).isEqualTo(403);
      JsonObject error = new JsonObject(refused.body()).getJsonArray("errors").getJsonObject(0);
      assertThat(error.getString("code")).isEqualTo("DENIED");
      assertThat(error.getJsonObject("detail").getString("resource")).isEqualTo("repositories");
      assertThat(error.getString("message")).startsWith("quota exceeded: " + namespace + " holds ")
          .contains("its limit of 10; the new repository " + refused.push().repository() + " would make 11");
    }
    assertThat(ConcurrentPushes.layersLinked(proxy.harness().registry().storage(), namespace)).as("blobs the registry links")
        .containsExactlyInAnyOrderElementsOf(accepted.stream().map(o -> o.push().repository() + "@" + o.push().digest()).toList());
    eventually(Duration.ofSeconds(5), () -> assertThat(counts(namespace)).isEqualTo(new ScopeCounts(10, 0, 0, 0)));
    proxy.invariant().check();
  }

  /**
   * An empty blob reserves no bytes, yet links the repository all the same: its push must hold the new
   * repository's slot like any other, or 32 of them at once would all pass the check before any commits.
   */
  @Test
  void thirtyTwoClientsCreatingRepositoriesWithAnEmptyBlobAtOnceEndExactlyAtTheLimit() throws Exception {
    ExecutorService threads = Executors.newFixedThreadPool(32);
    try {
      CountDownLatch go = new CountDownLatch(1);
      List<java.util.concurrent.Future<Reply>> running = new ArrayList<>();
      for (int i = 0; i < 32; i++) {
        OciTestClient client = new OciTestClient(proxy.client().base());
        String repository = String.format("empty/c%02d", i);
        running.add(threads.submit(() -> {
          go.await();
          return client.pushBlob(repository, new byte[0]);
        }));
      }
      go.countDown();
      List<Integer> statuses = new ArrayList<>();
      for (var reply : running) {
        statuses.add(reply.get(120, TimeUnit.SECONDS).status());
      }
      assertThat(statuses.stream().filter(status -> status == 201).count()).as("%s", statuses).isEqualTo(10);
      assertThat(statuses).allMatch(status -> status == 201 || status == 403);
    } finally {
      threads.shutdownNow();
    }
    eventually(Duration.ofSeconds(5), () -> assertThat(counts("empty")).isEqualTo(new ScopeCounts(10, 0, 0, 0)));
  }

  @Test
  void uploadSessionsOpenedAndAbandonedHoldNoRepositorySlot() throws Exception {
    for (String repository : List.of("idle/a", "idle/b", "idle/c")) {
      assertThat(proxy.client().startUpload(repository).status()).as(repository).isEqualTo(202);
    }

    assertThat(proxy.client().pushBlob("idle/d", randomBytes(KiB)).status()).isEqualTo(201);
    Reply refused = proxy.client().startUpload("idle/e");
    assertThat(refused.status()).as("no room left: refused at the upload start").isEqualTo(403);
    assertThat(refused.body()).contains("idle holds 1 repository, at its limit of 1; the new repository idle/e would make 2");
    assertThat(counts("idle")).isEqualTo(new ScopeCounts(1, 0, 0, 0));
  }

  @Test
  void aMonolithicUploadIntoANewRepositoryOverTheLimitIsRefusedBeforeItsBytesMove() throws Exception {
    assertThat(proxy.client().pushBlob("mono/a", randomBytes(KiB)).status()).isEqualTo(201);
    byte[] blob = randomBytes(8 * KiB);

    Reply refused = proxy.client().send("POST", "/v2/mono/b/blobs/uploads/?digest=" + digest(blob), BodyPublishers.ofByteArray(blob),
        "Content-Type", "application/octet-stream");

    assertThat(refused.status()).isEqualTo(403);
    assertThat(refused.body()).contains("mono holds 1 repository, at its limit of 1; the new repository mono/b would make 2");
    assertThat(proxy.harness().direct().head("/v2/mono/b/blobs/" + digest(blob)).status()).isEqualTo(404);
    assertThat(counts("mono")).isEqualTo(new ScopeCounts(1, 0, 0, 0));
    proxy.invariant().check();
  }

  @Test
  void aMountIntoANewRepositoryOverTheLimitIsRefused() throws Exception {
    byte[] blob = randomBytes(4 * KiB);
    assertThat(proxy.client().pushBlob("mnt/a", blob).status()).isEqualTo(201);

    Reply mounted = proxy.client().mount("mnt/b", digest(blob), "mnt/a");

    assertThat(mounted.status()).isEqualTo(403);
    assertThat(mounted.body()).contains("mnt holds 1 repository, at its limit of 1; the new repository mnt/b would make 2");
    assertThat(proxy.harness().direct().head("/v2/mnt/b/blobs/" + digest(blob)).status()).isEqualTo(404);
    assertThat(proxy.client().mount("mnt/a", digest(blob), "mnt/a").status()).as("a mount into one it holds").isEqualTo(201);
    assertThat(counts("mnt")).isEqualTo(new ScopeCounts(1, 0, 0, 0));
    proxy.invariant().check();
  }

  @Test
  void aManifestOverTheManifestLimitIsRefusedAndAnotherTagOfOneHeldIsNot() throws Exception {
    Image first = image(randomBytes(4 * KiB));
    assertThat(proxy.client().pushImage("man/app", "1", first).status()).isEqualTo(201);
    Image second = image(randomBytes(4 * KiB));

    Reply refused = proxy.client().pushImage("man/app", "2", second);

    assertThat(refused.status()).isEqualTo(403);
    assertThat(new JsonObject(refused.body()).getJsonArray("errors").getJsonObject(0).getString("message")).isEqualTo(
        "quota exceeded: man holds 1 manifest, at its limit of 1; the new manifest " + second.manifestDigest()
            + " in man/app would make 2");
    assertThat(proxy.harness().direct().head("/v2/man/app/manifests/" + second.manifestDigest()).status()).isEqualTo(404);
    assertThat(proxy.client().putManifest("man/app", "latest", first.manifest()).status()).isEqualTo(201);
    assertThat(counts("man")).isEqualTo(new ScopeCounts(1, 0, 1, 0));
  }

  @Test
  void aPushOverASoftCountLimitSucceedsWithAWarning() {
    Reply first = proxy.client().pushImage("soft/a", "1", image(randomBytes(KiB)));
    assertThat(first.status()).isEqualTo(201);
    assertThat(first.headers().allValues("Warning")).isEmpty();

    Reply second = proxy.client().pushBlob("soft/b", randomBytes(KiB));

    assertThat(second.status()).isEqualTo(201);
    assertThat(second.headers().allValues("Warning")).containsExactly("299 - \"soft holds 2 repositories, over its soft limit of 1\"");
    Reply manifest = proxy.client().pushImage("soft/b", "1", image(randomBytes(KiB)));
    assertThat(manifest.headers().allValues("Warning")).containsExactly(
        "299 - \"soft holds 2 repositories, over its soft limit of 1\"", "299 - \"soft holds 2 manifests, over its soft limit of 1\"");
  }

  @Test
  void countsComeBackFromTheLedgerAfterRedisLosesItsData() throws Exception {
    assertThat(proxy.client().pushImage("flush/a", "1", image(randomBytes(KiB))).status()).isEqualTo(201);
    assertThat(proxy.client().pushImage("flush/b", "1", image(randomBytes(KiB))).status()).isEqualTo(201);
    drainFeed();
    ScopeCounts before = counts("flush");

    proxy.harness().redis().flushAll();
    await(proxy.configured().refresh());

    Reply refused = proxy.client().pushBlob("flush/c", randomBytes(KiB));
    assertThat(refused.status()).isEqualTo(403);
    assertThat(refused.body()).contains("flush holds 2 repositories, at its limit of 2");
    assertThat(counts("flush")).isEqualTo(before).isEqualTo(new ScopeCounts(2, 0, 2, 0));
    assertThat(counts("flush/a")).isEqualTo(new ScopeCounts(1, 0, 1, 0));
  }

  /**
   * Redis loses its data while a push into a new repository is in flight: the proxy holds the repository's slot
   * again with the push's bytes (keep.lua), so a push into another new repository, decided meanwhile, is refused
   * rather than both landing past the limit.
   */
  @Test
  void aPushIntoANewRepositoryInFlightWhenRedisLosesItsDataKeepsItsSlot() throws Exception {
    assertThat(proxy.client().pushBlob("inflight/a", randomBytes(KiB)).status()).isEqualTo(201);
    drainFeed();
    byte[] big = randomBytes(256 * KiB);
    String location = proxy.client().startUpload("inflight/b").header("Location").orElseThrow();
    String target = RawHttp.target(location) + (location.contains("?") ? "&" : "?") + "digest=" + digest(big);
    try (RawHttp slow = RawHttp.connect(proxy.client().base())) {
      slow.head("PUT", target, "Content-Type", "application/octet-stream", "Content-Length", Integer.toString(big.length));
      slow.write(java.util.Arrays.copyOfRange(big, 0, KiB));
      eventually(Duration.ofSeconds(10),
          () -> assertThat(counts("inflight").repositoriesReserved()).as("the slow push's slot").isEqualTo(1));

      proxy.harness().redis().flushAll();
      await(proxy.configured().refresh());
      await(proxy.ledger().watch().watchOnce()); // restored at once, not at the next decision

      Reply second = proxy.client().pushBlob("inflight/c", randomBytes(KiB));
      assertThat(second.status()).as("the slot is the slow push's: %s", second.body()).isEqualTo(403);
      assertThat(new JsonObject(second.body()).getJsonArray("errors").getJsonObject(0).getJsonObject("detail").getString("resource"))
          .isEqualTo("repositories");

      slow.write(java.util.Arrays.copyOfRange(big, KiB, big.length));
      assertThat(slow.read(Duration.ofSeconds(20)).status()).isEqualTo(201);
    }
    assertThat(counts("inflight")).as("at the limit, not past it").isEqualTo(new ScopeCounts(2, 0, 0, 0));
    drainFeed();
  }

  private static ScopeCounts counts(String scope) throws Exception {
    return await(proxy.store().scope(scope)).counts();
  }

  private static void drainFeed() throws Exception {
    for (int round = 0; round < 100 && await(proxy.ledger().feed().feedOnce()) > 0; round++) {
      // until every event is in the ledger
    }
  }
}
