package dev.quotaproxy.proxy;

import static dev.quotaproxy.proxy.support.OciTestClient.digest;
import static dev.quotaproxy.proxy.support.OciTestClient.image;
import static dev.quotaproxy.proxy.support.OciTestClient.randomBytes;
import static dev.quotaproxy.testing.Eventually.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.metering.QuotaStore.ScopeState;
import dev.quotaproxy.proxy.support.OciTestClient.Image;
import dev.quotaproxy.proxy.support.OciTestClient.Reply;
import dev.quotaproxy.proxy.support.ProxyFixture;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import java.net.http.HttpRequest.BodyPublishers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Every enforcement point, through the proxy, against a real registry, metered in a real Redis.
 * Each test works in namespaces of its own; limits come from the YAML of the one proxy.
 */
class QuotaEnforcementTest {
  private static final int KiB = 1024;
  private static final int MiB = 1024 * KiB;
  private static final String LIMITS = """
      quota:
        scopes:
          small:
            storage-hard: 2MiB
          full/app:
            storage-hard: 1MiB
          soft:
            storage-hard: 4MiB
            storage-soft: 50%
          capped:
            storage-hard: 3MiB
          pull:
            egress: 1MiB
            egress-window: 1h
      """;

  @RegisterExtension static final ProxyFixture proxy = ProxyFixture.of(LIMITS, "--quota.chunk-reservation", "64KiB");

  @BeforeEach
  void freshLimits() throws Exception {
    await(proxy.configured().apply());
  }

  private static ScopeState scope(String name) throws Exception {
    return proxy.harness().scope(proxy.store(), name);
  }

  @Test
  void anImagePushedTwiceAndRetaggedCostsNothingTheSecondTime() throws Exception {
    Image image = image(randomBytes(300 * KiB), randomBytes(200 * KiB));

    assertThat(proxy.client().pushImage("twice/app", "v1", image).status()).isEqualTo(201);
    long once = scope("twice").used();
    assertThat(once).isEqualTo(image.totalSize());

    assertThat(proxy.client().pushImage("twice/app", "v1", image).status()).isEqualTo(201);
    assertThat(proxy.client().putManifest("twice/app", "v2", image.manifest()).status()).isEqualTo(201);

    assertThat(scope("twice").used()).isEqualTo(once);
    assertThat(scope("twice/app").used()).isEqualTo(once);
    assertThat(scope("twice").reserved()).isZero();
  }

  @Test
  void aLayerSharedByTwoRepositoriesCountsOnceInTheNamespaceAndOnceInEach() throws Exception {
    byte[] base = randomBytes(400 * KiB);
    Image a = image(base, randomBytes(100 * KiB));
    Image b = image(base, randomBytes(50 * KiB));

    assertThat(proxy.client().pushImage("shared/a", "1", a).status()).isEqualTo(201);
    assertThat(proxy.client().pushImage("shared/b", "1", b).status()).isEqualTo(201);

    assertThat(scope("shared/a").used()).isEqualTo(a.totalSize());
    assertThat(scope("shared/b").used()).isEqualTo(b.totalSize());
    assertThat(scope("shared").used()).isEqualTo(a.totalSize() + b.totalSize() - base.length);
  }

  @Test
  void anUploadOverTheLimitIsRefusedBeforeAByteReachesTheRegistry() throws Exception {
    byte[] blob = randomBytes(3 * MiB);

    Reply refused = proxy.client().pushBlob("small/app", blob);

    assertThat(refused.status()).isEqualTo(403);
    JsonObject error = new JsonObject(refused.body()).getJsonArray("errors").getJsonObject(0);
    assertThat(error.getString("code")).isEqualTo("DENIED");
    assertThat(error.getString("message"))
        .isEqualTo("quota exceeded: pushing 3.0 MiB to small would raise its storage to 3.0 MiB, over its 2.0 MiB limit");
    assertThat(error.getJsonObject("detail").getMap()).containsEntry("scope", "small").containsEntry("limit", 2 * MiB);
    assertThat(uploadedBytesInRegistry("small/app")).isZero();
    assertThat(proxy.harness().direct().head("/v2/small/app/blobs/" + digest(blob)).status()).isEqualTo(404);
    assertThat(scope("small").used()).isZero();
    assertThat(scope("small").reserved()).isZero();
  }

  @Test
  void aChunkedUploadOverTheLimitIsCutOffAtTheLimit() throws Exception {
    byte[] blob = randomBytes(4 * MiB);

    Reply refused = proxy.client().pushBlobChunked("capped/app", blob);

    assertThat(refused.status()).isEqualTo(403);
    assertThat(new JsonObject(refused.body()).getJsonArray("errors").getJsonObject(0).getString("code")).isEqualTo("DENIED");
    assertThat(uploadedBytesInRegistry("capped/app")).as("the registry got nothing beyond the limit").isLessThanOrEqualTo(3L * MiB);
    assertThat(proxy.harness().direct().head("/v2/capped/app/blobs/" + digest(blob)).status()).isEqualTo(404);
    assertThat(scope("capped").used()).isZero();
    assertThat(scope("capped").reserved()).as("the cut-off session holds nothing").isZero();
  }

  @Test
  void aChunkedUploadUnderTheLimitIsChargedItsExactSize() throws Exception {
    byte[] blob = randomBytes(MiB + 123);

    assertThat(proxy.client().pushBlobChunked("chunked/app", blob).status()).isEqualTo(201);

    assertThat(scope("chunked/app").used()).isEqualTo(blob.length);
    assertThat(scope("chunked/app").reserved()).isZero();
  }

  @Test
  void anUploadWhoseReservationExpiredIsChargedTheSizeTheRegistryReports() throws Exception {
    byte[] blob = randomBytes(100 * KiB);
    String location = proxy.client().startUpload("expired/app").header("Location").orElseThrow();
    Reply patch = proxy.client().send("PATCH", location, BodyPublishers.ofByteArray(blob));
    assertThat(patch.status()).isEqualTo(202);
    String uploadId = location.replaceAll(".*/uploads/([^?]+).*", "$1");
    // The session's reservation runs out (as after an hour of silence): the next call on the namespace releases it.
    proxy.harness().redis().command(Request.cmd(Command.ZADD).arg("qp:{expired}:res_expiry").arg(0).arg("session:" + uploadId));
    assertThat(scope("expired/app").reserved()).as("released: the session total is gone").isZero();

    Reply closed = proxy.client().send("PUT", patch.header("Location").orElseThrow() + "&digest=" + digest(blob), BodyPublishers.noBody());

    assertThat(closed.status()).isEqualTo(201);
    assertThat(scope("expired/app").used()).isEqualTo(blob.length);
    assertThat(scope("expired/app").reserved()).isZero();
  }

  @Test
  void aMonolithicPostTheRegistryDoesNotTakeChargesNothing() throws Exception {
    byte[] blob = randomBytes(300 * KiB);
    byte[] tooBig = randomBytes(3 * MiB);

    Reply answered = proxy.client().send("POST", "/v2/mono/app/blobs/uploads/?digest=" + digest(blob), BodyPublishers.ofByteArray(blob));
    Reply refused = proxy.client().send("POST", "/v2/small/mono/blobs/uploads/?digest=" + digest(tooBig),
        BodyPublishers.ofByteArray(tooBig));

    // distribution 2.8 does not take a blob in one POST: it opens a session (202) without asking for the
    // body, so nothing is decided on it, stored or charged, even where it would not fit.
    assertThat(answered.status()).isEqualTo(202);
    assertThat(scope("mono/app").used()).isZero();
    assertThat(scope("mono/app").reserved()).isZero();
    assertThat(refused.status()).isEqualTo(202);
    assertThat(scope("small").used()).isZero();
    assertThat(scope("small").reserved()).isZero();
  }

  @Test
  void aMountOfSomethingThatIsNotADigestIsLeftToTheRegistry() throws Exception {
    Reply answered = proxy.client().mount("mountbad/app", "not-a-digest", "other/app");

    assertThat(answered.status()).as("the registry opens a plain upload instead").isEqualTo(202);
    assertThat(scope("mountbad/app").used()).isZero();
    assertThat(scope("mountbad/app").reserved()).isZero();
  }

  @Test
  void anUploadStartIntoAFullScopeIsRefusedAtOnce() throws Exception {
    assertThat(proxy.client().pushBlob("full/app", randomBytes(MiB)).status()).isEqualTo(201);

    Reply refused = proxy.client().startUpload("full/app");

    assertThat(refused.status()).isEqualTo(403);
    assertThat(new JsonObject(refused.body()).getJsonArray("errors").getJsonObject(0).getString("message"))
        .isEqualTo("quota exceeded: full/app is at 1.0 MiB of its 1.0 MiB storage limit");
    assertThat(proxy.client().startUpload("full/other").status()).as("a sibling is not full").isEqualTo(202);
  }

  @Test
  void aMountThatDoesNotFitBecomesAPlainUploadAndAMountOfWhatIsThereIsFree() throws Exception {
    byte[] big = randomBytes(3 * MiB);
    assertThat(proxy.client().pushBlob("source/big", big).status()).isEqualTo(201);

    Reply plain = proxy.client().mount("small/app", digest(big), "source/big");

    // Never a refusal that would tell what the source holds: the registry opens a session, as for a digest nobody has.
    assertThat(plain.status()).isEqualTo(202);
    assertThat(plain.header("Location")).hasValueSatisfying(location -> assertThat(location).contains("/v2/small/app/blobs/uploads/"));
    assertThat(plain.body()).doesNotContain("MiB");
    assertThat(proxy.harness().direct().head("/v2/small/app/blobs/" + digest(big)).status()).isEqualTo(404);
    assertThat(scope("small").reserved()).isZero();

    byte[] little = randomBytes(100 * KiB);
    assertThat(proxy.client().pushBlob("small/one", little).status()).isEqualTo(201);
    assertThat(proxy.client().mount("small/two", digest(little), "small/one").status()).isEqualTo(201);
    assertThat(scope("small").used()).as("already in the namespace: free there").isEqualTo(little.length);
    assertThat(scope("small/two").used()).isEqualTo(little.length);
  }

  @Test
  void aManifestOverTheLimitIsRefusedBeforeTheRegistrySeesIt() throws Exception {
    Image image = image(randomBytes(3 * MiB));
    // Blobs already in the registry (pushed around the proxy): the manifest is what would charge them.
    proxy.harness().direct().pushBlob("small/bypass", image.config());
    proxy.harness().direct().pushBlob("small/bypass", image.layers()[0]);

    Reply refused = proxy.client().putManifest("small/bypass", "v1", image.manifest());

    assertThat(refused.status()).isEqualTo(403);
    assertThat(proxy.harness().direct().get("/v2/small/bypass/manifests/v1").status()).isEqualTo(404);
    assertThat(scope("small").reserved()).isZero();
  }

  @Test
  void aMalformedManifestIsRefusedWithTheRegistrysCodeAndChargesNothing() throws Exception {
    Reply refused = proxy.client().putManifest("bad/app", "v1", "{\"schemaVersion\":2,\"layers\":\"nope\"}");

    assertThat(refused.status()).isEqualTo(400);
    assertThat(new JsonObject(refused.body()).getJsonArray("errors").getJsonObject(0).getString("code")).isEqualTo("MANIFEST_INVALID");
    assertThat(scope("bad").used()).isZero();
  }

  @Test
  void deletingAManifestFreesItsOwnLayersAndKeepsTheSharedOnes() throws Exception {
    byte[] base = randomBytes(300 * KiB);
    Image first = image(base, randomBytes(100 * KiB));
    Image second = image(base, randomBytes(200 * KiB));
    assertThat(proxy.client().pushImage("del/app", "first", first).status()).isEqualTo(201);
    assertThat(proxy.client().pushImage("del/app", "second", second).status()).isEqualTo(201);
    long before = scope("del/app").used();

    assertThat(proxy.client().delete("/v2/del/app/manifests/" + first.manifestDigest()).status()).isEqualTo(202);

    long ownBytes = first.totalSize() - base.length;
    assertThat(scope("del/app").used()).isEqualTo(before - ownBytes);
    assertThat(scope("del").used()).isEqualTo(before - ownBytes);

    // Unlinking a layer the second manifest still references frees nothing: garbage collection keeps it.
    byte[] secondLayer = second.layers()[1];
    assertThat(proxy.client().delete("/v2/del/app/blobs/" + digest(secondLayer)).status()).isEqualTo(202);
    assertThat(scope("del/app").used()).isEqualTo(before - ownBytes);
    // Once no manifest references it either, it goes, with everything else the last manifest held.
    assertThat(proxy.client().delete("/v2/del/app/manifests/" + second.manifestDigest()).status()).isEqualTo(202);
    assertThat(scope("del/app").used()).isZero();
  }

  @Test
  void aFailedUploadChargesNothingAndKeepsWhatTheRegistryHoldsOfItReserved() throws Exception {
    Reply start = proxy.client().startUpload("failed/app");
    String location = start.header("Location").orElseThrow();
    byte[] blob = randomBytes(100 * KiB);

    Reply wrongDigest = proxy.client().send("PUT", location + "&digest=" + digest(new byte[] {1}), BodyPublishers.ofByteArray(blob));

    assertThat(wrongDigest.status()).isEqualTo(400);
    assertThat(scope("failed").used()).isZero();
    // The registry keeps the body in the session it did not close: those bytes stay reserved for it
    // (they occupy its disk) until the session ends or its reservation expires.
    assertThat(scope("failed").reserved()).isEqualTo(blob.length);
  }

  @Test
  void aPushThatLeavesAScopeOverItsSoftLimitIsWarned() throws Exception {
    assertThat(proxy.client().pushBlob("soft/app", randomBytes(MiB)).header("Warning")).isEmpty();

    Reply warned = proxy.client().pushBlob("soft/app", randomBytes(1536 * KiB));

    assertThat(warned.status()).isEqualTo(201);
    assertThat(warned.header("Warning")).hasValueSatisfying(w -> assertThat(w).startsWith("299 - \"soft is at 62"));
  }

  @Test
  void pullsOverTheEgressLimitGet429WithRetryAfter() throws Exception {
    byte[] blob = randomBytes(1536 * KiB);
    assertThat(proxy.client().pushBlob("pull/app", blob).status()).isEqualTo(201);

    assertThat(proxy.client().get("/v2/pull/app/blobs/" + digest(blob)).status()).isEqualTo(200);
    Reply limited = proxy.client().get("/v2/pull/app/blobs/" + digest(blob));

    assertThat(limited.status()).isEqualTo(429);
    assertThat(new JsonObject(limited.body()).getJsonArray("errors").getJsonObject(0).getString("code")).isEqualTo("TOOMANYREQUESTS");
    assertThat(limited.header("Retry-After")).hasValueSatisfying(s -> assertThat(Long.parseLong(s)).isBetween(1L, 3600L));
    assertThat(proxy.client().get("/v2/pull/app/blobs/" + digest(blob)).status()).isEqualTo(429);
    assertThat(proxy.client().head("/v2/pull/app/blobs/" + digest(blob)).status()).as("HEAD moves no bytes").isEqualTo(200);
  }

  @Test
  void anExpectContinueUploadOverTheLimitIsRefusedBeforeTheBodyIsSent() throws Exception {
    String location = proxy.client().startUpload("small/expect").header("Location").orElseThrow();
    Vertx vertx = Vertx.vertx();
    try {
      // java.net.http waits forever on a final answer to Expect (a JDK 17 bug), so this one speaks Vert.x.
      AtomicBoolean continued = new AtomicBoolean();
      HttpClientRequest put = vertx.createHttpClient().request(new RequestOptions().setAbsoluteURI(
          location + "&digest=" + digest(new byte[] {1})).setMethod(HttpMethod.PUT)).await(10, TimeUnit.SECONDS);
      put.putHeader("Content-Length", Long.toString(3L * MiB)).putHeader("Expect", "100-continue");
      put.continueHandler(v -> continued.set(true));
      HttpClientResponse refused = put.sendHead().compose(v -> put.response()).await(10, TimeUnit.SECONDS);

      assertThat(refused.statusCode()).isEqualTo(403);
      assertThat(continued).as("no 100 Continue: the body is never sent").isFalse();
      assertThat(uploadedBytesInRegistry("small/expect")).isZero();
    } finally {
      vertx.close().await(10, TimeUnit.SECONDS);
    }
  }

  /** Bytes the registry holds in unfinished uploads of a repository. */
  private static long uploadedBytesInRegistry(String repository) throws Exception {
    Path uploads = proxy.harness().registry().storage().resolve("docker/registry/v2/repositories/" + repository + "/_uploads");
    if (!Files.exists(uploads)) {
      return 0;
    }
    try (Stream<Path> files = Files.walk(uploads)) {
      return files.filter(p -> p.getFileName().toString().equals("data")).mapToLong(p -> p.toFile().length()).sum();
    }
  }
}
