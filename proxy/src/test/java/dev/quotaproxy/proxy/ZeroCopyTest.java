package dev.quotaproxy.proxy;

import static dev.quotaproxy.proxy.support.OciTestClient.digest;
import static dev.quotaproxy.proxy.support.OciTestClient.randomBytes;
import static dev.quotaproxy.testing.Eventually.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.metering.QuotaStore.EgressCheck;
import dev.quotaproxy.proxy.support.ProxyFixture;
import dev.quotaproxy.proxy.support.QuotaHarness.Deployed;
import io.micrometer.core.instrument.Counter;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import java.net.URI;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Blob downloads of 1 MiB or more go from the registry's socket to the client's with splice(2),
 * against a real registry: the bytes arrive as the registry holds them, are metered as sent, and the
 * client connection carries on. Smaller blobs and a proxy with zero copy off are copied. (Stalls and
 * hang-ups mid-body are in {@link StreamingTest}, whose upstream the test controls.)
 */
class ZeroCopyTest {
  private static final int KiB = 1024;
  private static final int MiB = 1024 * KiB;
  /**
   * A scope with an egress limit of one byte lets one pull through and then tells how many bytes it
   * counted: the store reports usage only for a scope at its limit.
   */
  private static final String LIMITS = """
      quota:
        scopes:
          spliced:
            egress: 1
            egress-window: 1h
          copied:
            egress: 1
            egress-window: 1h
      """;

  @RegisterExtension static final ProxyFixture proxy = ProxyFixture.of(LIMITS);
  static HttpClient http;
  private double splicedBefore;

  @BeforeAll
  static void start() {
    // One connection: a second request reuses it, so a test can tell whether the first left it usable.
    http = proxy.harness().vertx().createHttpClient(new HttpClientOptions().setKeepAlive(true), new PoolOptions().setHttp1MaxSize(1));
  }

  @BeforeEach
  void note() {
    assertThat(proxy.harness().vertx().isNativeTransportEnabled()).as("Linux epoll, which splice needs, is in use").isTrue();
    splicedBefore = spliced();
  }

  @Test
  void aLargeBlobArrivesAsTheRegistryHoldsItWithoutPassingThroughTheProxy() throws Exception {
    byte[] blob = randomBytes(3 * MiB + 17);
    assertThat(proxy.client().pushBlob("spliced/large", blob).status()).isEqualTo(201);

    Pulled pulled = pull(proxy.deployed(), "/v2/spliced/large/blobs/" + digest(blob));

    assertThat(pulled.status()).isEqualTo(200);
    assertThat(pulled.body().length()).isEqualTo(blob.length);
    assertThat(digest(pulled.body().getBytes())).isEqualTo(digest(blob));
    // The first piece of the body comes with the head and goes through Vert.x; the rest is spliced.
    assertThat(spliced() - splicedBefore).as("bytes spliced").isBetween((double) 2 * MiB, (double) blob.length);
    assertThat(egressUsed("spliced/large")).as("egress metered for every byte sent").isEqualTo(blob.length);
  }

  @Test
  void theClientConnectionCarriesTheNextRequestAfterASplicedBody() throws Exception {
    byte[] large = randomBytes(2 * MiB);
    byte[] small = randomBytes(10 * KiB);
    assertThat(proxy.client().pushBlob("zc/reuse", large).status()).isEqualTo(201);
    assertThat(proxy.client().pushBlob("zc/reuse", small).status()).isEqualTo(201);

    Pulled first = pull(proxy.deployed(), "/v2/zc/reuse/blobs/" + digest(large));
    Pulled second = pull(proxy.deployed(), "/v2/zc/reuse/blobs/" + digest(small));
    Pulled third = pull(proxy.deployed(), "/v2/zc/reuse/blobs/" + digest(large));

    assertThat(digest(first.body().getBytes())).isEqualTo(digest(large));
    assertThat(digest(second.body().getBytes())).isEqualTo(digest(small));
    assertThat(digest(third.body().getBytes())).isEqualTo(digest(large));
    assertThat(second.connection()).as("the same client connection").isSameAs(first.connection());
    assertThat(third.connection()).isSameAs(first.connection());
  }

  @Test
  void aRangeOfABlobIsSplicedAsTheRegistrySendsIt() throws Exception {
    byte[] blob = randomBytes(4 * MiB);
    assertThat(proxy.client().pushBlob("zc/range", blob).status()).isEqualTo(201);
    int from = 1000;
    int to = from + 2 * MiB - 1;

    Pulled pulled = pull(proxy.deployed(), "/v2/zc/range/blobs/" + digest(blob), "Range", "bytes=" + from + "-" + to);

    assertThat(pulled.status()).isEqualTo(206);
    assertThat(pulled.body().getBytes()).isEqualTo(Arrays.copyOfRange(blob, from, to + 1));
    assertThat(spliced() - splicedBefore).isPositive();
  }

  @Test
  void aBlobUnderOneMebibyteIsCopied() throws Exception {
    byte[] blob = randomBytes(MiB - 1);
    assertThat(proxy.client().pushBlob("zc/small", blob).status()).isEqualTo(201);

    Pulled pulled = pull(proxy.deployed(), "/v2/zc/small/blobs/" + digest(blob));

    assertThat(digest(pulled.body().getBytes())).isEqualTo(digest(blob));
    assertThat(spliced()).isEqualTo(splicedBefore);
  }

  @Test
  void withZeroCopyOffBlobsAreCopied() throws Exception {
    Deployed copying = proxy.harness().startProxy(LIMITS, "--proxy.zero-copy", "false");
    byte[] blob = randomBytes(2 * MiB);
    assertThat(copying.client().pushBlob("copied/off", blob).status()).isEqualTo(201);

    Pulled pulled = pull(copying, "/v2/copied/off/blobs/" + digest(blob));

    assertThat(digest(pulled.body().getBytes())).isEqualTo(digest(blob));
    assertThat(spliced()).isEqualTo(splicedBefore);
    assertThat(egressUsed("copied/off")).isEqualTo(blob.length);
  }

  private record Pulled(int status, Buffer body, HttpConnection connection) {}

  private static Pulled pull(Deployed target, String path, String... headers) throws Exception {
    URI base = URI.create(target.client().base());
    RequestOptions options = new RequestOptions().setHost(base.getHost()).setPort(base.getPort()).setURI(path);
    for (int i = 0; i < headers.length; i += 2) {
      options.putHeader(headers[i], headers[i + 1]);
    }
    Pulled pulled = http.request(options)
        .compose(request -> request.send()
            .compose(response -> response.body().map(body -> new Pulled(response.statusCode(), body, request.connection()))))
        .await(60, TimeUnit.SECONDS);
    // The proxy meters an exchange as it ends, which the client cannot see; an answer to the next request
    // on the same connection (the pool has one) comes after it.
    http.request(new RequestOptions().setHost(base.getHost()).setPort(base.getPort()).setURI("/v2/"))
        .compose(request -> request.send().compose(response -> response.body()))
        .await(30, TimeUnit.SECONDS);
    return pulled;
  }

  private static double spliced() {
    Counter counter = proxy.harness().metrics().registry().find("quota_proxy.spliced.bytes").counter();
    return counter == null ? 0 : counter.count();
  }

  private static long egressUsed(String repository) throws Exception {
    var grant = await(proxy.store().reserveEgress(repository, 0));
    assertThat(grant.allowed()).as("the scope is at its one-byte limit after a pull").isFalse();
    EgressCheck check = grant.refusal();
    return check.used();
  }
}
