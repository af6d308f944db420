package dev.quotaproxy.proxy;

import io.vertx.redis.client.Response;

import io.vertx.redis.client.Request;

import io.vertx.redis.client.Command;

import static dev.quotaproxy.proxy.support.OciTestClient.digest;
import static dev.quotaproxy.proxy.support.OciTestClient.image;
import static dev.quotaproxy.proxy.support.OciTestClient.randomBytes;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.ledger.support.RealRegistry;
import dev.quotaproxy.proxy.support.OciTestClient;
import dev.quotaproxy.proxy.support.OciTestClient.Image;
import dev.quotaproxy.proxy.support.OciTestClient.Reply;
import dev.quotaproxy.proxy.support.QuotaHarness;
import dev.quotaproxy.proxy.support.QuotaHarness.Deployed;
import dev.quotaproxy.proxy.support.RawHttp;
import dev.quotaproxy.proxy.support.RegistryStorage;
import dev.quotaproxy.proxy.support.ScopeWatch;
import dev.quotaproxy.proxy.support.StorageInvariant;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.stream.Collectors;
import org.assertj.core.api.SoftAssertions;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.MethodOrderer.OrderAnnotation;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The limit against anyone (PRODUCT.md, Threat model): one test per class of attack, each written as
 * a hostile client does it (raw HTTP where the bytes matter), through the proxy, against a real
 * registry, metered in a real Redis. Every test ends with {@link StorageInvariant}: whatever the
 * client got, the registry holds no more than the limit under each scope and the charge is what it
 * holds.
 *
 * <p>Each test reports all its broken expectations at once (soft assertions), the invariant last, so a
 * failure reads as a list of what got through.
 *
 * <p>Each test has a registry, a Redis and a proxy of its own, so what one attack leaks cannot show
 * up in another's invariant.
 */
@TestMethodOrder(OrderAnnotation.class)
class HostileClientTest {
  private static final int KiB = 1024;
  private static final int MiB = 1024 * KiB;
  private static final String OCTETS = "application/octet-stream";
  private static final String FORM = "application/x-www-form-urlencoded";

  /** The push path's guards as these tests set them, shorter or smaller than the defaults to be quick. */
  private static final class NewSettings {
    /** How long a request on the push path may take to send the first byte of its body. */
    static final Duration BODY_FIRST_BYTE_TIMEOUT = Duration.ofSeconds(2);
    /** The most references a manifest may carry. */
    static final int MAX_MANIFEST_REFERENCES = 50;
    /** Requests in flight on the push path per client address. */
    static final int MAX_PUSHES_PER_CLIENT = 2;

    static String[] bodyFirstByteTimeout() {
      return new String[] {"--quota.body-first-byte-timeout", BODY_FIRST_BYTE_TIMEOUT.toSeconds() + "s"};
    }

    static String[] maxManifestReferences() {
      return new String[] {"--quota.max-manifest-references", Integer.toString(MAX_MANIFEST_REFERENCES)};
    }

    static String[] maxPushesPerClient() {
      return new String[] {"--quota.max-pushes-per-client", Integer.toString(MAX_PUSHES_PER_CLIENT)};
    }
  }

  private QuotaHarness harness;
  private Deployed proxy;
  private OciTestClient client;
  private String origin;

  @AfterEach
  void stop() throws Exception {
    if (harness != null) {
      harness.close();
    }
  }

  private void start(String yaml, String... flags) throws Exception {
    start(new QuotaHarness(), yaml, flags);
  }

  private void start(QuotaHarness fresh, String yaml, String... flags) throws Exception {
    harness = fresh;
    proxy = harness.startProxy(yaml, flags);
    client = proxy.client();
    origin = client.base();
  }

  private static String hardLimit(String scope, String limit) {
    return """
        quota:
          scopes:
            %s:
              storage-hard: %s
        """.formatted(scope, limit);
  }

  private StorageInvariant invariant() {
    return StorageInvariant.of(harness.registry().storage(), proxy.stores()).withChargedDigestsFrom(harness.redis());
  }

  private Path storage() {
    return harness.registry().storage();
  }

  // ---------------------------------------------------------------------------------------------
  // The honest baseline: must hold today.

  @Test
  @Order(0)
  void baseline_anHonestPushAndPullKeepTheInvariant() throws Exception {
    start(hardLimit("acme", "4MiB"));
    Image image = image(randomBytes(MiB), randomBytes(300 * KiB));

    for (byte[] blob : List.of(image.config(), image.layers()[0], image.layers()[1])) {
      String location = session("acme/app");
      Reply patch = client.send("PATCH", location, BodyPublishers.ofByteArray(blob), "Content-Type", OCTETS);
      assertThat(patch.status()).as("PATCH").isEqualTo(202);
      Reply put = client.send("PUT", withQuery(patch.header("Location").orElseThrow(), "digest=" + digest(blob)), BodyPublishers.noBody());
      assertThat(put.status()).as("closing PUT").isEqualTo(201);
    }
    assertThat(client.putManifest("acme/app", "v1", image.manifest()).status()).isEqualTo(201);

    assertThat(client.send("GET", "/v2/acme/app/manifests/v1", BodyPublishers.noBody(), "Accept", OciTestClient.OCI_MANIFEST).body())
        .isEqualTo(image.manifest());
    HttpResponse<byte[]> pulled = pull("/v2/acme/app/blobs/" + digest(image.layers()[0]));
    assertThat(pulled.statusCode()).isEqualTo(200);
    assertThat(digest(pulled.body())).isEqualTo(digest(image.layers()[0]));
    assertThat(harness.scope(proxy.store(), "acme").used()).isEqualTo(image.totalSize());
    invariant().check();
  }

  // ---------------------------------------------------------------------------------------------
  // 1. Route keywords the registry decodes and the proxy must not miss.

  @Test
  @Order(1)
  void encodedRouteKeywordsAndUncleanPathsAreRefused() throws Exception {
    start(hardLimit("acme", "4MiB"));
    Image image = image(randomBytes(100 * KiB));
    assertThat(client.pushImage("acme/app", "v1", image).status()).isEqualTo(201);
    byte[] chunk = randomBytes(64 * KiB);
    // Each attempt on an open session has a session of its own: /v2/acme/app/blobs/uploads/<id>?_state=...
    List<UnaryOperator<String>> disguises = List.of(
        target -> "/%762/" + target.substring("/v2/".length()),
        target -> target.replace("/blobs/uploads/", "/blobs%2Fuploads/"),
        target -> target.replace("/blobs/uploads/", "/blobs/uploads%2F"),
        target -> target.replace("/blobs/uploads/", "/blobs/uploads/../uploads/"),
        target -> target.replace("/v2/acme/", "/v2//acme/"));
    List<String[]> attempts = new ArrayList<>(List.of(
        // Upload starts: distribution decodes the path before routing, and cleans it with a redirect.
        new String[] {"POST", "/v2/acme/app/blobs%2Fuploads/"},
        new String[] {"POST", "/v2/acme/app/blobs%2fuploads/"},
        new String[] {"POST", "/%762/acme/app/blobs/uploads/"},
        new String[] {"POST", "/v2/acme/app/x/../blobs/uploads/"},
        new String[] {"POST", "/v2/acme/app/blobs/./uploads/"},
        new String[] {"POST", "/v2/acme//app/blobs/uploads/"},
        new String[] {"POST", "//v2/acme/app/blobs/uploads/"},
        // A delete the proxy would not account.
        new String[] {"DELETE", "/%762/acme/app/manifests/" + image.manifestDigest()}));
    for (UnaryOperator<String> disguise : disguises) {
      // Chunks the proxy would not meter, and closes (carrying the blob) it would not charge.
      attempts.add(new String[] {"PATCH", disguise.apply(RawHttp.target(session("acme/app")))});
      attempts.add(new String[] {"PUT", disguise.apply(RawHttp.target(withQuery(session("acme/app"), "digest=" + digest(chunk))))});
    }
    SortedMap<String, Long> before = RegistryStorage.files(storage());

    SoftAssertions soft = new SoftAssertions();
    for (String[] attempt : attempts) {
      byte[] body = attempt[0].equals("PATCH") || attempt[0].equals("PUT") ? chunk : new byte[0];
      RawHttp.Reply reply = RawHttp.exchange(origin, attempt[0], attempt[1], body, "Content-Type", OCTETS);
      assertUnsupported(soft, reply, attempt[0] + " " + attempt[1]);
    }
    soft.assertThat(RegistryStorage.changes(before, RegistryStorage.files(storage()))).as("changes to the registry's storage").isEmpty();
    soft.check(() -> invariant().check());
    soft.assertAll();
  }

  // ---------------------------------------------------------------------------------------------
  // 2. Parameters where the registry reads them: a form body is a query string to distribution.

  @Test
  @Order(2)
  void parametersInAFormBodyAreRefused() throws Exception {
    start(hardLimit("acme", "4MiB"));
    byte[] blob = randomBytes(200 * KiB);
    byte[] mounted = randomBytes(300 * KiB);
    assertThat(client.pushBlob("acme/src", mounted).status()).isEqualTo(201);
    String uploaded = patchedSession("acme/app", blob);
    String alsoUploaded = patchedSession("acme/app2", blob);
    String multipart = patchedSession("acme/app3", blob);

    SoftAssertions soft = new SoftAssertions();
    RawHttp.Reply formDigest = RawHttp.exchange(origin, "PUT", RawHttp.target(uploaded),
        ("digest=" + digest(blob)).getBytes(StandardCharsets.US_ASCII), "Content-Type", FORM);
    assertUnsupported(soft, formDigest, "closing PUT with the digest in a form body");
    RawHttp.Reply formOverQuery = RawHttp.exchange(origin, "PUT",
        RawHttp.target(withQuery(alsoUploaded, "digest=" + digest(new byte[] {1}))),
        ("digest=" + digest(blob)).getBytes(StandardCharsets.US_ASCII), "Content-Type", FORM);
    assertUnsupported(soft, formOverQuery, "closing PUT whose form body digest overrides the query's");
    String boundary = "hostile" + System.nanoTime();
    byte[] parts = ("--" + boundary + "\r\nContent-Disposition: form-data; name=\"digest\"\r\n\r\n" + digest(blob)
        + "\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.US_ASCII);
    RawHttp.Reply multipartDigest = RawHttp.exchange(origin, "PUT", RawHttp.target(multipart), parts,
        "Content-Type", "multipart/form-data; boundary=" + boundary);
    assertUnsupported(soft, multipartDigest, "closing PUT with the digest in a multipart form body");
    RawHttp.Reply formMount = RawHttp.exchange(origin, "POST", "/v2/acme/dst/blobs/uploads/",
        ("mount=" + digest(mounted) + "&from=acme/src").getBytes(StandardCharsets.US_ASCII), "Content-Type", FORM);
    assertUnsupported(soft, formMount, "upload start with mount and from in a form body");

    for (String repository : List.of("acme/app", "acme/app2", "acme/app3")) {
      soft.assertThat(harness.direct().head("/v2/" + repository + "/blobs/" + digest(blob)).status())
          .as("blob stored in %s by a form-body close", repository).isEqualTo(404);
    }
    soft.assertThat(harness.direct().head("/v2/acme/dst/blobs/" + digest(mounted)).status())
        .as("blob mounted into acme/dst by a form-body mount").isEqualTo(404);
    soft.check(() -> invariant().check());
    soft.assertAll();
  }

  // ---------------------------------------------------------------------------------------------
  // 3. What the registry stored of a refused chunk is still the client's, and still counts.

  @Test
  @Order(3)
  void bytesStoredBeforeARefusalStayReservedWhateverTheClientDoesNext() throws Exception {
    start(hardLimit("acme", "4MiB"));
    int sessions = 4;
    List<String> locations = new ArrayList<>();
    List<byte[]> data = new ArrayList<>();
    for (int i = 0; i < sessions; i++) {
      // All opened while the scope is empty, as an attacker preparing would.
      locations.add(session("acme/app" + i));
      data.add(randomBytes(6 * MiB));
    }

    SoftAssertions soft = new SoftAssertions();
    List<String> story = new ArrayList<>();
    for (int i = 0; i < sessions; i++) {
      RawHttp.Reply patch = chunkedPatch(locations.get(i), data.get(i));
      story.add("session " + i + " PATCH 6 MiB chunked: " + patch);
      if (patch.status() == 403) {
        JsonObject error = patch.error();
        soft.assertThat(error.getString("code")).as("refusal code of session %d", i).isEqualTo("DENIED");
        soft.assertThat(error.getString("message")).as("refusal of session %d names the scope", i).contains("acme");
        soft.assertThat(error.getJsonObject("detail", new JsonObject()).fieldNames())
            .as("refusal detail of session %d", i).contains("usage", "limit");
      } else {
        soft.assertThat(patch.status()).as("a 6 MiB chunk into a 4 MiB scope, session %d", i).isEqualTo(403);
      }
    }

    for (int i = 0; i < sessions; i++) {
      // As an attacker learns it: the session's status through the proxy.
      Reply status = client.get(locations.get(i));
      long stored = storedLength(status);
      String resume = status.header("Location").orElse(locations.get(i));
      byte[] all = data.get(i);
      Reply closed;
      if (i < sessions / 2) {
        // Keep what got in: close on the prefix the registry holds.
        closed = client.send("PUT", withQuery(resume, "digest=" + digest(Arrays.copyOf(all, (int) stored))), BodyPublishers.noBody());
      } else {
        // Send the rest with the close.
        closed = client.send("PUT", withQuery(resume, "digest=" + digest(all)),
            BodyPublishers.ofByteArray(Arrays.copyOfRange(all, (int) stored, all.length)), "Content-Type", OCTETS);
      }
      story.add("session " + i + ": status " + status.status() + " Range " + status.header("Range").orElse("-")
          + " (" + stored + " bytes stored), close " + closed.status() + " " + closed.body());
    }

    // distribution takes no resume on a stale _state (its offset check), so the refused sessions are
    // dead to their clients; what they stored stays on disk until the registry purges old uploads.
    soft.check(() -> openUploadsStayReserved("acme"));
    soft.check(() -> invariant().check());
    if (!soft.wasSuccess()) {
      soft.fail("what happened:\n  " + String.join("\n  ", story));
    }
    soft.assertAll();
  }

  // ---------------------------------------------------------------------------------------------
  // 4. Sizes come from bytes counted or from the registry, never from a manifest's claim.

  @Test
  @Order(4)
  void descriptorSizesThatLieAreRefusedAndAReferencedLayerStaysCharged() throws Exception {
    start(hardLimit("acme", "8MiB"));
    byte[] layer = randomBytes(MiB);
    Image honest = image(layer);
    assertThat(client.pushImage("acme/app", "v1", honest).status()).isEqualTo(201);

    SoftAssertions soft = new SoftAssertions();
    for (long claimed : List.of(900L * MiB, 1L)) {
      String lying = honest.manifest().replace("\"size\":" + layer.length + "}", "\"size\":" + claimed + "}");
      assertThat(lying).as("manifest with a lying size").isNotEqualTo(honest.manifest());
      Reply reply = client.putManifest("acme/app", "lie" + claimed, lying);
      soft.assertThat(reply.status()).as("manifest claiming %d bytes for a %d byte layer: %s", claimed, layer.length, reply.body())
          .isEqualTo(400);
      soft.assertThat(code(reply)).as("code for a size of %d", claimed).isEqualTo("MANIFEST_INVALID");
      soft.assertThat(reply.body()).as("the refusal names the layer").contains(digest(layer));
    }

    // The registry unlinks the layer; manifest v1 still references it, so it stays (GC keeps it).
    assertThat(client.delete("/v2/acme/app/blobs/" + digest(layer)).status()).isEqualTo(202);

    soft.assertThat(RegistryStorage.read(storage()).heldBy("acme/app")).as("held after the layer delete").contains(digest(layer));
    soft.check(() -> invariant().check());
    soft.assertAll();
  }

  // ---------------------------------------------------------------------------------------------
  // 5. An egress limit holds against pulls started together.

  @Test
  @Order(5)
  void parallelPullsCannotOutrunTheEgressLimit() throws Exception {
    start("""
        quota:
          scopes:
            acme:
              egress: 3MiB
              egress-window: 1h
        """);
    byte[] blob = randomBytes(2 * MiB);
    assertThat(client.pushBlob("acme/app", blob).status()).isEqualTo(201);

    int pulls = 10;
    List<HttpResponse<byte[]>> answers = together(pulls, () -> pull("/v2/acme/app/blobs/" + digest(blob)));

    List<HttpResponse<byte[]>> whole = answers.stream()
        .filter(a -> a.statusCode() == 200 && Arrays.equals(a.body(), blob)).toList();
    List<HttpResponse<byte[]>> limited = answers.stream().filter(a -> a.statusCode() == 429).toList();
    String summary = answers.stream().map(a -> a.statusCode() + "/" + a.body().length + "B").collect(Collectors.joining(", "));
    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(whole).as("pulls answered 200 with the whole blob, of %d (%s)", pulls, summary).hasSize(1);
    soft.assertThat(limited).as("pulls answered 429 (%s)", summary).hasSize(pulls - 1);
    for (HttpResponse<byte[]> refused : limited) {
      soft.assertThat(new JsonObject(new String(refused.body(), StandardCharsets.UTF_8)).getJsonArray("errors").getJsonObject(0)
          .getString("code")).isEqualTo("TOOMANYREQUESTS");
      soft.assertThat(refused.headers().firstValue("Retry-After")).as("Retry-After").isPresent();
    }
    soft.check(() -> invariant().check());
    soft.assertAll();
  }

  // ---------------------------------------------------------------------------------------------
  // 6. A request head without its body holds nothing for long.

  @Test
  @Order(6)
  void headsWithoutBodiesDoNotHoldTheScope() throws Exception {
    start(hardLimit("acme", "4MiB"), NewSettings.bodyFirstByteTimeout());
    List<RawHttp> idle = new ArrayList<>();
    try (ScopeWatch watch = ScopeWatch.start(harness.vertx(), harness.redis().url(), proxy.store(), "acme")) {
      // The heads are written before the honest client connects, so the proxy (one event loop) reads
      // them first: today each reserves its 2 MiB at once, and the scope is full before the push asks.
      for (int i = 0; i < 2; i++) {
        RawHttp connection = RawHttp.connect(origin);
        idle.add(connection);
        connection.head("PATCH", RawHttp.target(session("acme/idle" + i)), "Content-Type", OCTETS, "Content-Length",
            Integer.toString(2 * MiB));
      }

      SoftAssertions soft = new SoftAssertions();
      byte[] blob = randomBytes(MiB);
      long startedNanos = System.nanoTime();
      Reply honest = honestPush("acme/app", blob);
      Duration took = Duration.ofNanos(System.nanoTime() - startedNanos);
      soft.assertThat(honest.status()).as("an honest 1 MiB push beside two idle 2 MiB heads: %s", honest.body()).isEqualTo(201);
      soft.assertThat(took).as("time the honest push took").isLessThan(Duration.ofSeconds(10));

      Duration bound = NewSettings.BODY_FIRST_BYTE_TIMEOUT.plusSeconds(5);
      for (RawHttp connection : idle) {
        RawHttp.Ending ending = connection.awaitEnding(bound);
        soft.assertThat(ending.silent()).as("idle head still open after %d ms (%s)", bound.toMillis(), ending).isFalse();
      }
      soft.check(() -> watch.awaitNothingReserved("acme", Duration.ofSeconds(5)));
      soft.check(() -> invariant().check());
      soft.assertAll();
    } finally {
      idle.forEach(RawHttp::close);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // 7. A mount does not tell whether a blob exists elsewhere, or how big it is.

  @Test
  @Order(7)
  void aMountIsNoOracleForBlobsInOtherNamespaces() throws Exception {
    start(hardLimit("acme", "1MiB"));
    byte[] secret = randomBytes(MiB);
    assertThat(client.pushBlob("other/repo", secret).status()).isEqualTo(201);
    assertThat(client.pushBlob("acme/base", randomBytes(512 * KiB)).status()).isEqualTo(201);
    String absent = digest(randomBytes(MiB));

    RawHttp.Reply present = RawHttp.exchange(origin, "POST",
        "/v2/acme/app/blobs/uploads/?mount=" + digest(secret) + "&from=other/repo", new byte[0]);
    RawHttp.Reply missing = RawHttp.exchange(origin, "POST",
        "/v2/acme/app/blobs/uploads/?mount=" + absent + "&from=other/repo", new byte[0]);

    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(present.status()).as("mount of a blob other/repo holds, too big for acme: %s", present).isEqualTo(202);
    soft.assertThat(missing.status()).as("mount of an absent blob: %s", missing).isEqualTo(202);
    soft.assertThat(present.header("Location")).as("an upload session for the present blob").hasValueSatisfying(
        l -> assertThat(l).contains("/v2/acme/app/blobs/uploads/"));
    soft.assertThat(headerNames(present)).as("header names, present vs absent").isEqualTo(headerNames(missing));
    soft.assertThat(present.text()).as("body, present vs absent").isEqualTo(missing.text());
    for (RawHttp.Reply reply : List.of(present, missing)) {
      assertNoFigures(soft, reply, "a mount answer", MiB, 512 * KiB);
    }
    soft.assertThat(harness.direct().head("/v2/acme/app/blobs/" + digest(secret)).status()).as("mounted into acme").isEqualTo(404);
    soft.check(() -> invariant().check());
    soft.assertAll();
  }

  // ---------------------------------------------------------------------------------------------
  // 8. The registry decides who may push before the proxy says anything about quotas.

  @Test
  @Order(8)
  void theRegistrysAuthComesBeforeAnyQuotaAnswer() throws Exception {
    Path htpasswd = Files.createTempFile("htpasswd", "");
    try {
      byte[] salt = new byte[16];
      new SecureRandom().nextBytes(salt);
      Files.writeString(htpasswd, "alice:" + OpenBSDBCrypt.generate("2y", "secret".toCharArray(), salt, 5) + "\n");
      start(new QuotaHarness(RealRegistry.start(new RealRegistry.Htpasswd("registry-test", htpasswd))), hardLimit("acme", "2MiB"));
      String alice = basic("alice", "secret");
      String intruder = basic("alice", "wrong");

      byte[] fill = randomBytes(1536 * KiB);
      Reply filled = client.send("PUT", withQuery(authorisedSession("acme/app", alice), "digest=" + digest(fill)),
          BodyPublishers.ofByteArray(fill), "Authorization", alice, "Content-Type", OCTETS);
      assertThat(filled.status()).as("alice fills acme to 1.5 of its 2 MiB").isEqualTo(201);
      String session = RawHttp.target(authorisedSession("acme/app", alice));

      SoftAssertions soft = new SoftAssertions();
      try (ScopeWatch watch = ScopeWatch.start(harness.vertx(), harness.redis().url(), proxy.store(), "acme")) {
        RawHttp.Reply anonymous = RawHttp.exchange(origin, "PATCH", session, randomBytes(MiB), "Content-Type", OCTETS);
        assertAuthChallenge(soft, anonymous, "anonymous 1 MiB PATCH into acme");
        soft.check(() -> watch.awaitNothingReserved("acme", Duration.ofSeconds(5)));

        RawHttp.Reply wrongPassword = RawHttp.exchange(origin, "PATCH", session, randomBytes(MiB),
            "Content-Type", OCTETS, "Authorization", intruder);
        assertAuthChallenge(soft, wrongPassword, "1 MiB PATCH with a wrong password");
        soft.check(() -> watch.awaitNothingReserved("acme", Duration.ofSeconds(5)));
      }

      RawHttp.Reply over = RawHttp.exchange(origin, "PATCH", session, randomBytes(MiB), "Content-Type", OCTETS, "Authorization", alice);
      soft.assertThat(over.status()).as("alice's 1 MiB PATCH over the limit: %s", over).isEqualTo(403);
      soft.assertThat(over.error().getString("code")).isEqualTo("DENIED");
      soft.assertThat(over.error().getJsonObject("detail", new JsonObject()).fieldNames()).contains("scope", "usage", "limit");

      byte[] last = randomBytes(512 * KiB);
      RawHttp.Reply fits = RawHttp.exchange(origin, "PATCH", session, last, "Content-Type", OCTETS, "Authorization", alice);
      assertThat(fits.status()).as("alice's 512 KiB PATCH that fits: %s", fits).isEqualTo(202);

      // acme is now full, its last 512 KiB in alice's open session.
      RawHttp.Reply anonymousStart = RawHttp.exchange(origin, "POST", "/v2/acme/app/blobs/uploads/", new byte[0]);
      assertAuthChallenge(soft, anonymousStart, "anonymous upload start into a full scope");

      Reply closed = client.send("PUT", withQuery(fits.header("Location").orElseThrow(), "digest=" + digest(last)),
          BodyPublishers.noBody(), "Authorization", alice);
      soft.assertThat(closed.status()).as("alice closes her session").isEqualTo(201);
      soft.check(() -> invariant().check());
      soft.assertAll();
    } finally {
      Files.deleteIfExists(htpasswd);
    }
  }

  @Test
  @Order(8)
  void clientsTheRegistryRefusesLeaveNoStateBehind() throws Exception {
    Path htpasswd = Files.createTempFile("htpasswd", "");
    try {
      byte[] salt = new byte[16];
      new SecureRandom().nextBytes(salt);
      Files.writeString(htpasswd, "alice:" + OpenBSDBCrypt.generate("2y", "secret".toCharArray(), salt, 5) + "\n");
      start(new QuotaHarness(RealRegistry.start(new RealRegistry.Htpasswd("registry-test", htpasswd))), hardLimit("acme", "2MiB"));
      String uuid = "7d705121-ced7-4ad4-bbd1-4db41c399d5b";

      List<RawHttp.Reply> refused = List.of(
          RawHttp.exchange(origin, "POST", "/v2/fresh/app/blobs/uploads/", new byte[0]),
          RawHttp.exchange(origin, "POST", "/v2/fresh/app/blobs/uploads/?mount=sha256:" + "a".repeat(64) + "&from=acme/app", new byte[0]),
          RawHttp.exchange(origin, "PATCH", "/v2/fresh/app/blobs/uploads/" + uuid, randomBytes(64 * KiB), "Content-Type", OCTETS),
          RawHttp.exchange(origin, "PUT", "/v2/fresh/app/manifests/v1", "{\"schemaVersion\":2}".getBytes(StandardCharsets.UTF_8),
              "Content-Type", "application/vnd.oci.image.manifest.v1+json"));

      SoftAssertions soft = new SoftAssertions();
      for (RawHttp.Reply reply : refused) {
        soft.assertThat(reply.status()).as("%s", reply).isEqualTo(401);
      }
      Response keys = harness.redis().command(Request.cmd(Command.KEYS).arg("qp:{fresh}:*"));
      soft.assertThat(keys == null ? List.of() : keys.stream().map(Response::toString).toList())
          .as("Redis keys of a namespace only refused clients asked about").isEmpty();
      Response namespaces = harness.redis().command(Request.cmd(Command.SMEMBERS).arg("qp:namespaces"));
      soft.assertThat(namespaces == null ? List.of() : namespaces.stream().map(Response::toString).toList()).doesNotContain("fresh");
      soft.check(() -> invariant().check());
      soft.assertAll();
    } finally {
      Files.deleteIfExists(htpasswd);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // 9. A write the proxy does not recognise is refused, not passed on unmetered.

  @Test
  @Order(9)
  void unrecognisedWritesAreRefused() throws Exception {
    start(hardLimit("acme", "4MiB"));
    String session = RawHttp.target(session("acme/app"));
    byte[] blob = randomBytes(64 * KiB);
    Image image = image(randomBytes(KiB));
    SortedMap<String, Long> before = RegistryStorage.files(storage());

    SoftAssertions soft = new SoftAssertions();
    assertUnsupported(soft, RawHttp.exchange(origin, "PUT", "/v2/acme/app/blobs/" + digest(blob), blob, "Content-Type", OCTETS),
        "PUT of a blob by digest");
    assertUnsupported(soft, RawHttp.exchange(origin, "POST", "/v2/acme/app/manifests/latest",
        image.manifest().getBytes(StandardCharsets.UTF_8), "Content-Type", OciTestClient.OCI_MANIFEST), "POST of a manifest");
    assertUnsupported(soft, RawHttp.exchange(origin, "patch", session, blob, "Content-Type", OCTETS), "patch in lower case");
    soft.assertThat(RegistryStorage.changes(before, RegistryStorage.files(storage()))).as("changes to the registry's storage").isEmpty();
    soft.check(() -> invariant().check());
    soft.assertAll();
  }

  // ---------------------------------------------------------------------------------------------
  // 10. A manifest's references are capped: each costs a lookup and a record.

  @Test
  @Order(10)
  void aManifestOverTheReferenceCapIsRefused() throws Exception {
    start(hardLimit("acme", "8MiB"), NewSettings.maxManifestReferences());
    byte[][] layers = new byte[NewSettings.MAX_MANIFEST_REFERENCES][];
    for (int i = 0; i < layers.length; i++) {
      layers[i] = randomBytes(100);
      assertThat(client.pushBlob("acme/app", layers[i]).status()).isEqualTo(201);
    }
    Image image = image(layers); // the layers and the config: one reference over the cap
    assertThat(client.pushBlob("acme/app", image.config()).status()).isEqualTo(201);

    Reply reply = client.putManifest("acme/app", "v1", image.manifest());

    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(reply.status()).as("manifest with %d references: %s", layers.length + 1, reply.body()).isEqualTo(400);
    soft.assertThat(code(reply)).isEqualTo("MANIFEST_INVALID");
    soft.assertThat(reply.body()).as("names the cap").contains(Integer.toString(NewSettings.MAX_MANIFEST_REFERENCES));
    soft.assertThat(harness.direct().get("/v2/acme/app/manifests/v1").status()).as("manifest in the registry").isEqualTo(404);
    soft.check(() -> invariant().check());
    soft.assertAll();
  }

  // ---------------------------------------------------------------------------------------------
  // 11. One client address cannot fill the push path with requests in flight.

  @Test
  @Order(11)
  void oneClientCannotHoldMoreThanItsShareOfThePushPath() throws Exception {
    start(hardLimit("acme", "64MiB"), NewSettings.maxPushesPerClient());
    List<RawHttp> held = new ArrayList<>();
    try {
      for (int i = 0; i < NewSettings.MAX_PUSHES_PER_CLIENT; i++) {
        RawHttp connection = RawHttp.connect(origin);
        held.add(connection);
        connection.head("PATCH", RawHttp.target(session("acme/held" + i)),
            "Content-Type", OCTETS, "Content-Length", Integer.toString(MiB), "Expect", "100-continue");
        // 100 Continue: the proxy took the request in; it is in flight from now on, its body never sent.
        assertThat(connection.readInterim(Duration.ofSeconds(10)).status()).as("interim answer to held PATCH %d", i).isEqualTo(100);
      }

      SoftAssertions soft = new SoftAssertions();
      RawHttp.Reply oneMore = RawHttp.exchange(origin, "POST", "/v2/acme/app/blobs/uploads/", new byte[0]);
      soft.assertThat(oneMore.status()).as("push request %d from 127.0.0.1: %s", NewSettings.MAX_PUSHES_PER_CLIENT + 1, oneMore)
          .isEqualTo(429);
      soft.assertThat(oneMore.error().getString("code")).isEqualTo("TOOMANYREQUESTS");
      soft.assertThat(oneMore.header("Retry-After")).as("Retry-After").isPresent();

      byte[] blob = randomBytes(256 * KiB);
      try (RawHttp other = RawHttp.connect(origin, InetAddress.getByName("127.0.0.2"))) {
        RawHttp.Reply start = other.request("POST", "/v2/acme/other/blobs/uploads/", new byte[0]);
        soft.assertThat(start.status()).as("upload start from 127.0.0.2: %s", start).isEqualTo(202);
        if (start.status() == 202) {
          RawHttp.Reply patch = other.request("PATCH", RawHttp.target(start.header("Location").orElseThrow()), blob,
              "Content-Type", OCTETS);
          soft.assertThat(patch.status()).as("PATCH from 127.0.0.2: %s", patch).isEqualTo(202);
          RawHttp.Reply put = other.request("PUT",
              RawHttp.target(withQuery(patch.header("Location").orElseThrow(), "digest=" + digest(blob))), new byte[0]);
          soft.assertThat(put.status()).as("closing PUT from 127.0.0.2: %s", put).isEqualTo(201);
        }
      }
      held.forEach(RawHttp::close);
      soft.check(() -> invariant().check());
      soft.assertAll();
    } finally {
      held.forEach(RawHttp::close);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Found while writing the above: more ways past the limit, each as its own attack.

  /**
   * 12. The registry reads a manifest with Go's {@code encoding/json}, which matches keys ignoring case,
   * the last match winning: {@code "layers":[],"LAYERS":[L]} references L for the registry (and its
   * GC) and nothing for a case-sensitive reader. Deleting another manifest that references L then
   * frees L from the charge while the registry keeps it.
   */
  @Test
  @Order(12)
  void referencesHiddenBehindKeysInAnotherCaseStillCount() throws Exception {
    start(hardLimit("acme", "8MiB"));
    byte[] layer = randomBytes(MiB);
    Image honest = image(layer);
    assertThat(client.pushImage("acme/app", "v1", honest).status()).isEqualTo(201);
    String hidden = honest.manifest().replace("\"layers\":[", "\"layers\":[],\"LAYERS\":[");
    assertThat(hidden).isNotEqualTo(honest.manifest());

    Reply put = client.putManifest("acme/app", "hidden", hidden);
    Reply deleted = client.delete("/v2/acme/app/manifests/" + honest.manifestDigest());

    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(put.status()).as("manifest hiding its layer behind LAYERS: %s", put.body()).isIn(201, 400);
    if (put.status() == 400) {
      soft.assertThat(code(put)).isEqualTo("MANIFEST_INVALID");
    }
    soft.assertThat(deleted.status()).as("delete of the honest manifest").isEqualTo(202);
    soft.check(() -> invariant().check());
    soft.assertAll();
  }

  /**
   * 13. An upload session's reservation expires (quota.reservation-ttl) while the registry still holds
   * its bytes and the session can still be closed: the room is given to another push meanwhile, and
   * the close then commits past the limit. The proxy's own contention wait (a push refused only by
   * bytes in flight waits for them) outlasts the 1 s TTL, so no sleep is needed here.
   */
  @Test
  @Order(13)
  void anUploadSessionOutlivingItsReservationCannotCommitPastTheLimit() throws Exception {
    start(hardLimit("acme", "4MiB"), "--quota.reservation-ttl", "1s");
    byte[] first = randomBytes(3 * MiB);
    byte[] second = randomBytes(3 * MiB);
    String open = patchedSession("acme/first", first);

    Reply other = honestPush("acme/second", second);
    Reply closed = client.send("PUT", withQuery(open, "digest=" + digest(first)), BodyPublishers.noBody());

    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(List.of(other.status(), closed.status()))
        .as("another 3 MiB push, then the close of the open 3 MiB session, in 4 MiB: %s / %s", other.body(), closed.body())
        .filteredOn(status -> status == 201).hasSizeLessThanOrEqualTo(1);
    soft.check(() -> invariant().check());
    soft.assertAll();
  }

  /** 14. The route keywords of (1), on a pull: an egress limit the proxy cannot see is no limit. */
  @Test
  @Order(14)
  void encodedPullPathsDoNotGetPastAnEgressLimit() throws Exception {
    start("""
        quota:
          scopes:
            acme:
              egress: 1MiB
              egress-window: 1h
        """);
    byte[] blob = randomBytes(1536 * KiB);
    assertThat(client.pushBlob("acme/app", blob).status()).isEqualTo(201);
    assertThat(pull("/v2/acme/app/blobs/" + digest(blob)).statusCode()).as("first pull").isEqualTo(200);
    assertThat(pull("/v2/acme/app/blobs/" + digest(blob)).statusCode()).as("second pull, over the limit").isEqualTo(429);

    SoftAssertions soft = new SoftAssertions();
    for (String path : List.of("/%762/acme/app/blobs/" + digest(blob), "/v2/acme/app/blobs%2F" + digest(blob),
        "/v2/acme/app%2Fblobs/" + digest(blob), "/v2//acme/app/blobs/" + digest(blob))) {
      RawHttp.Reply reply = RawHttp.exchange(origin, "GET", path, new byte[0]);
      soft.assertThat(reply.status()).as("GET %s: %s", path, reply.status()).isIn(400, 429);
      soft.assertThat(reply.error().getString("code")).as("GET %s: code", path).isIn("UNSUPPORTED", "TOOMANYREQUESTS");
      soft.assertThat(reply.body().length).as("GET %s: body bytes", path).isLessThan(blob.length);
    }
    soft.check(() -> invariant().check());
    soft.assertAll();
  }

  /**
   * 15. A client that sends part of a chunk and hangs up leaves those bytes in the registry's upload
   * session (distribution keeps what it received); they are the client's, on the registry's disk, and
   * stay reserved like any bytes of an open upload.
   */
  @Test
  @Order(15)
  void bytesOfAChunkTheClientAbandonedStayReserved() throws Exception {
    start(hardLimit("acme", "8MiB"));
    String location = session("acme/app");
    byte[] sent = randomBytes(2 * MiB);
    String id = location.replaceAll(".*/uploads/([^?]+).*", "$1");
    try (RawHttp http = RawHttp.connect(origin)) {
      http.head("PATCH", RawHttp.target(location), "Content-Type", OCTETS, "Content-Length", Integer.toString(3 * MiB));
      http.write(sent);
      // As the attacker would wait a moment: here, until the registry has written what was sent.
      long arrived = RegistryStorage.awaitUploadData(storage(), "acme/app", id, sent.length - 64 * KiB, Duration.ofSeconds(20));
      assertThat(arrived).as("bytes of the abandoned chunk in the registry before the hang-up")
          .isGreaterThanOrEqualTo(sent.length - 64 * KiB);
    }

    SoftAssertions soft = new SoftAssertions();
    soft.check(() -> openUploadsStayReserved("acme"));
    soft.check(() -> invariant().check());
    soft.assertAll();
  }

  /**
   * 16. A repository may be named like the scope of another (acme/app and acme/app/sub, both valid). A
   * blob pushed to acme/app/sub, then to acme/app (uploaded or mounted), then deleted from acme/app/sub
   * is still held by acme/app: were the second link taken for "already held", each round would leave a
   * blob in the registry that nothing charges, past any limit.
   */
  @Test
  @Order(16)
  void aRepositoryNamedLikeAnothersScopeCannotHoldBlobsNothingCharges() throws Exception {
    start(hardLimit("acme", "3MiB"));
    SoftAssertions soft = new SoftAssertions();
    int stored = 0;
    for (int round = 0; round < 5; round++) {
      byte[] blob = randomBytes(MiB);
      if (client.pushBlob("acme/app/sub", blob).status() != 201) {
        break;
      }
      // Uploaded once (its bytes are reserved in acme until the digest is known), mounted after.
      Reply linked = round == 0 ? client.pushBlob("acme/app", blob) : client.mount("acme/app", digest(blob), "acme/app/sub");
      soft.assertThat(linked.status()).as("round %d: link in acme/app", round).isEqualTo(201);
      soft.assertThat(client.delete("/v2/acme/app/sub/blobs/" + digest(blob)).status()).as("round %d: delete from acme/app/sub", round)
          .isEqualTo(202);
      stored++;
    }
    soft.assertThat(stored).as("blobs acme/app holds when the limit refuses the next").isEqualTo(3);
    soft.assertThat(harness.scope(proxy.store(), "acme/app").used()).isEqualTo(3L * MiB);
    soft.check(() -> invariant().check());
    soft.assertAll();
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  /**
   * Bytes the registry holds in open upload sessions under the scope stay reserved there (PRODUCT.md,
   * Threat model), watched for a few seconds: a reservation given back while the registry still holds
   * the bytes fails at once.
   */
  private void openUploadsStayReserved(String scope) throws Exception {
    try (ScopeWatch watch = ScopeWatch.start(harness.vertx(), harness.redis().url(), proxy.store(), scope)) {
      watch.holdsFor(scope, state -> state.reserved() >= RegistryStorage.read(storage()).openUploadBytes(scope),
          () -> "reserving the " + RegistryStorage.read(storage()).openUploadBytes(scope) + " bytes the registry holds in open uploads "
              + RegistryStorage.read(storage()).openUploads(),
          Duration.ofSeconds(3));
    }
  }

  /** Opens an upload session through the proxy (no credentials); its Location. */
  private String session(String repository) {
    Reply start = client.startUpload(repository);
    assertThat(start.status()).as("upload start in %s: %s", repository, start.body()).isEqualTo(202);
    return start.header("Location").orElseThrow();
  }

  private String authorisedSession(String repository, String authorization) {
    Reply start = client.send("POST", "/v2/" + repository + "/blobs/uploads/", BodyPublishers.noBody(), "Authorization", authorization);
    assertThat(start.status()).as("authorised upload start in %s: %s", repository, start.body()).isEqualTo(202);
    return start.header("Location").orElseThrow();
  }

  /** A session with the blob sent in one PATCH, not closed; the Location to close it at. */
  private String patchedSession(String repository, byte[] blob) {
    Reply patch = client.send("PATCH", session(repository), BodyPublishers.ofByteArray(blob), "Content-Type", OCTETS);
    assertThat(patch.status()).as("PATCH into %s", repository).isEqualTo(202);
    return patch.header("Location").orElseThrow();
  }

  /** POST, PATCH with the blob, empty closing PUT: the closing reply, or the first that was not a success. */
  private Reply honestPush(String repository, byte[] blob) {
    Reply start = client.startUpload(repository);
    if (start.status() != 202) {
      return start;
    }
    Reply patch = client.send("PATCH", start.header("Location").orElseThrow(), BodyPublishers.ofByteArray(blob), "Content-Type", OCTETS);
    if (patch.status() != 202) {
      return patch;
    }
    return client.send("PUT", withQuery(patch.header("Location").orElseThrow(), "digest=" + digest(blob)), BodyPublishers.noBody());
  }

  /** A PATCH of the data as chunked transfer (as podman sends), on a socket, answered whenever the proxy answers. */
  private RawHttp.Reply chunkedPatch(String location, byte[] data) throws Exception {
    try (RawHttp http = RawHttp.connect(origin)) {
      http.head("PATCH", RawHttp.target(location), "Content-Type", OCTETS, "Transfer-Encoding", "chunked");
      Thread sender = new Thread(() -> http.sendChunked(data, 64 * KiB), "chunked-patch");
      sender.setDaemon(true);
      sender.start();
      RawHttp.Reply reply = http.read(Duration.ofSeconds(60));
      sender.join(10_000);
      return reply;
    }
  }

  /** Bytes an upload session holds, from its status answer's {@code Range: 0-<last>}. */
  private static long storedLength(Reply status) {
    String range = status.header("Range").orElse("0-0");
    long last = Long.parseLong(range.substring(range.indexOf('-') + 1).trim());
    return last == 0 ? 0 : last + 1;
  }

  private HttpResponse<byte[]> pull(String path) throws IOException, InterruptedException {
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
    return http.send(HttpRequest.newBuilder(URI.create(origin + path)).timeout(Duration.ofSeconds(60)).GET().build(),
        BodyHandlers.ofByteArray());
  }

  /** Runs the calls on threads of their own, released together; their results in order. */
  private static <T> List<T> together(int count, Callable<T> call) throws Exception {
    ExecutorService threads = Executors.newFixedThreadPool(count);
    try {
      CountDownLatch ready = new CountDownLatch(count);
      CountDownLatch go = new CountDownLatch(1);
      List<Future<T>> running = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        running.add(threads.submit(() -> {
          ready.countDown();
          go.await();
          return call.call();
        }));
      }
      assertThat(ready.await(30, TimeUnit.SECONDS)).isTrue();
      go.countDown();
      List<T> results = new ArrayList<>();
      for (Future<T> result : running) {
        results.add(result.get(120, TimeUnit.SECONDS));
      }
      return results;
    } finally {
      threads.shutdownNow();
    }
  }

  private static void assertUnsupported(SoftAssertions soft, RawHttp.Reply reply, String what) {
    soft.assertThat(reply.status()).as("%s: %s", what, reply).isEqualTo(400);
    soft.assertThat(reply.error().getString("code")).as("%s: code", what).isEqualTo("UNSUPPORTED");
  }

  /** The registry's own challenge: 401 with its WWW-Authenticate, and nothing about quotas. */
  private static void assertAuthChallenge(SoftAssertions soft, RawHttp.Reply reply, String what) {
    soft.assertThat(reply.status()).as("%s: %s", what, reply).isEqualTo(401);
    soft.assertThat(reply.header("WWW-Authenticate")).as("%s: challenge", what)
        .hasValueSatisfying(h -> assertThat(h).contains("realm=\"registry-test\""));
    assertNoFigures(soft, reply, what, 2 * MiB, 1536 * KiB, 512 * KiB, MiB);
  }

  /** Neither the figures (in bytes or as a person reads them) nor the words of a quota answer appear anywhere in the reply. */
  private static void assertNoFigures(SoftAssertions soft, RawHttp.Reply reply, String what, long... figures) {
    String all = reply.everything().toLowerCase(Locale.ROOT);
    Set<String> leaks = new TreeSet<>();
    for (long figure : figures) {
      for (String text : List.of(Long.toString(figure), dev.quotaproxy.config.ByteSize.format(figure).toLowerCase(Locale.ROOT))) {
        if (all.contains(text)) {
          leaks.add(text);
        }
      }
    }
    for (String word : List.of("quota", "usage", "limit", "requested")) {
      if (all.contains(word)) {
        leaks.add(word);
      }
    }
    soft.assertThat(leaks).as("%s gives away %s in:%n%s", what, leaks, reply.everything()).isEmpty();
  }

  private static Set<String> headerNames(RawHttp.Reply reply) {
    return reply.headers().stream().map(h -> h.getKey().toLowerCase(Locale.ROOT)).collect(Collectors.toCollection(TreeSet::new));
  }

  private static String code(Reply reply) {
    try {
      return new JsonObject(reply.body()).getJsonArray("errors").getJsonObject(0).getString("code");
    } catch (RuntimeException notOci) {
      return null;
    }
  }

  private static String basic(String user, String password) {
    return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
  }

  private static String withQuery(String url, String parameter) {
    return url + (url.contains("?") ? "&" : "?") + parameter;
  }
}
