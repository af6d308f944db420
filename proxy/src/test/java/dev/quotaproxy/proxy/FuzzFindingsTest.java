package dev.quotaproxy.proxy;

import static dev.quotaproxy.proxy.support.OciTestClient.randomBytes;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.proxy.support.OciTestClient;
import dev.quotaproxy.proxy.support.QuotaHarness;
import dev.quotaproxy.proxy.support.QuotaHarness.Deployed;
import dev.quotaproxy.proxy.support.RawHttp;
import dev.quotaproxy.proxy.support.RegistryStorage;
import dev.quotaproxy.proxy.support.ScopeWatch;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What {@link RequestFuzzTest} found in the proxy, each reduced to the fewest requests that show it,
 * kept so it cannot come back.
 */
class FuzzFindingsTest {
  private static final String LIMITS = """
      quota:
        scopes:
          fuzz:
            storage-hard: 1MiB
      """;
  private static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

  private QuotaHarness harness;

  @AfterEach
  void stop() throws Exception {
    if (harness != null) {
      harness.close();
    }
  }

  /**
   * A manifest PUT with an empty body ({@code Content-Length: 0}, or none) is answered 400 by the
   * registry, and the next request on that upstream connection must still be answered. It was not:
   * the empty body went upstream with {@code Expect: 100-continue}, Go answered without asking for it,
   * and the request, never ended, left the pooled connection unable to carry another one. An empty
   * body is now forwarded plainly, and a connection whose request was answered before its body went
   * is closed.
   */
  @Test
  void anEmptyManifestPutDoesNotStallTheNextRequest() throws Exception {
    harness = new QuotaHarness();
    Deployed proxy = harness.startProxy(LIMITS, "--upstream.idle-timeout", "5s");
    String origin = proxy.client().base();

    RawHttp.Reply empty = RawHttp.exchange(origin, "PUT", "/v2/fuzz/a/manifests/t0", new byte[0], "Content-Type", OCI_MANIFEST);
    assertThat(empty.status()).as("the empty manifest: %s", empty).isEqualTo(400);

    long started = System.nanoTime();
    RawHttp.Reply next = RawHttp.exchange(origin, "POST", "/v2/fuzz/a/blobs/uploads/", new byte[0]);
    long millis = (System.nanoTime() - started) / 1_000_000;
    assertThat(next.status()).as("the next request, an upload start, answered after %d ms: %s", millis, next).isEqualTo(202);
  }

  /**
   * The same poisoned connection, met by a request the proxy makes itself before forwarding (the upload
   * status a closing PUT of a session the store does not know asks for): it had no deadline, so the
   * client waited until it gave up, holding its connection and its push slot. The proxy's own requests
   * are now bounded by {@code upstream.idle-timeout} like any exchange.
   */
  @Test
  void theCloseOfASessionTheProxyDoesNotKnowIsAnsweredAfterAnEmptyManifestPut() throws Exception {
    harness = new QuotaHarness();
    Deployed proxy = harness.startProxy(LIMITS, "--upstream.idle-timeout", "5s");
    String origin = proxy.client().base();
    byte[] blob = randomBytes(1000);
    String registry = harness.registry().url();
    String location = RawHttp.exchange(registry, "POST", "/v2/fuzz/a/blobs/uploads/", new byte[0]).header("Location").orElseThrow();
    location = RawHttp.exchange(registry, "PATCH", RawHttp.target(location), blob).header("Location").orElseThrow();

    RawHttp.Reply empty = RawHttp.exchange(origin, "PUT", "/v2/fuzz/a/manifests/t0", new byte[0], "Content-Type", OCI_MANIFEST);
    assertThat(empty.status()).as("the empty manifest: %s", empty).isEqualTo(400);

    try (RawHttp http = RawHttp.connect(origin)) {
      http.head("PUT", RawHttp.target(location) + "&digest=" + OciTestClient.digest(blob), "Content-Length", "0");
      RawHttp.Ending ending = http.awaitEnding(Duration.ofSeconds(15));
      assertThat(ending.silent()).as("the closing PUT of an upload opened at the registry, 15 s later: %s", ending).isFalse();
    }
  }

  /**
   * A closing PUT the registry refuses for its digest (400 {@code DIGEST_INVALID}) has had its body
   * appended to the upload session, which distribution 2.8 keeps open with those bytes. They stay
   * reserved for the session (until it ends or expires): otherwise a client could park a body on the
   * registry's disk in as many sessions as it opens while its scope shows the room free.
   */
  @Test
  void theBodyOfAClosingPutWithTheWrongDigestStaysReserved() throws Exception {
    harness = new QuotaHarness();
    Deployed proxy = harness.startProxy(LIMITS);
    String origin = proxy.client().base();
    byte[] body = randomBytes(100_000);
    String location = RawHttp.target(proxy.client().startUpload("fuzz/a").header("Location").orElseThrow());

    RawHttp.Reply put = RawHttp.exchange(origin, "PUT", location + "&digest=" + OciTestClient.digest(new byte[] {1}), body,
        "Content-Type", "application/octet-stream");

    assertThat(put.status()).as("a close naming another blob's digest: %s", put).isEqualTo(400);
    long open = RegistryStorage.read(harness.registry().storage()).openUploadBytes("fuzz");
    assertThat(open).as("bytes the registry keeps in the open upload").isEqualTo(body.length);
    assertThat(harness.scope(proxy.store(), "fuzz").reserved()).as("bytes reserved in fuzz").isGreaterThanOrEqualTo(open);
  }

  /**
   * A mount whose client goes away while the proxy is reserving the blob's size must not leave that
   * reservation behind: the rules' end ran before the grant and released nothing, and the grant that
   * landed a moment later held the scope's room for an hour. The request id is now released, and so
   * retired, whatever became of the reservation, and a grant that lands afterwards holds nothing.
   */
  @Test
  void aMountWhoseClientLeavesHoldsNoReservation() throws Exception {
    harness = new QuotaHarness();
    Deployed proxy = harness.startProxy(LIMITS);
    String origin = proxy.client().base();
    assertThat(proxy.client().pushBlob("fuzz/seed", randomBytes(1000)).status()).as("fuzz's state exists").isEqualTo(201);
    byte[] blob = randomBytes(50_000);
    // Pushed around the proxy, so that its size is asked of the registry (a HEAD) before it is reserved.
    assertThat(harness.direct().pushBlob("other/src", blob).status()).isEqualTo(201);

    for (int i = 0; i < 10; i++) {
      try (RawHttp http = RawHttp.connect(origin)) {
        // The head, then the client is gone while the proxy asks the registry the size and reserves it.
        http.head("POST", "/v2/fuzz/dst" + i + "/blobs/uploads/?mount=" + OciTestClient.digest(blob) + "&from=other/src");
      }
    }

    // The mounts are decided and ended a moment after their clients left, reserving and releasing as they
    // go: what counts is that the scope comes to rest holding nothing (for a second with no write).
    try (ScopeWatch watch = ScopeWatch.start(harness.vertx(), harness.redis().url(), proxy.store(), "fuzz")) {
      AssertionError last = null;
      for (int attempt = 0; attempt < 10; attempt++) {
        watch.awaitNothingReserved("fuzz", Duration.ofSeconds(10));
        try {
          watch.holdsFor("fuzz", state -> state.reserved() == 0, () -> "at rest holding no reservation", Duration.ofSeconds(1));
          last = null;
          break;
        } catch (AssertionError stillMoving) {
          last = stillMoving;
        }
      }
      if (last != null) {
        throw last;
      }
    }
  }
}
