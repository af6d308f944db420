package dev.quotaproxy.proxy;

import static dev.quotaproxy.proxy.support.OciTestClient.digest;
import static dev.quotaproxy.proxy.support.OciTestClient.randomBytes;
import static dev.quotaproxy.testing.Eventually.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.proxy.support.OciTestClient;
import dev.quotaproxy.proxy.support.OciTestClient.Reply;
import dev.quotaproxy.proxy.support.QuotaHarness;
import dev.quotaproxy.proxy.support.QuotaHarness.Deployed;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The system scope: the registry turns read-only at the write ratio and back; a store that is down fails pushes closed. */
class SystemQuotaTest {
  private static final int KiB = 1024;

  private QuotaHarness harness;

  @BeforeEach
  void start() throws Exception {
    harness = new QuotaHarness();
  }

  @AfterEach
  void stop() throws Exception {
    harness.close();
  }

  @Test
  void readOnlyFlipsOnAtTheWriteRatioAndBackOffWhenDeletesFreeSpace() throws Exception {
    Deployed proxy = harness.startProxy("""
        quota:
          system:
            hard-storage: 1MiB
            write-ratio: 50%
        """);
    OciTestClient client = proxy.client();
    byte[] blob = randomBytes(600 * KiB);
    assertThat(client.pushBlob("ro/app", blob).status()).isEqualTo(201);

    await(proxy.configured().refresh());

    Reply refused = client.pushBlob("ro/other", randomBytes(KiB));
    assertThat(refused.status()).isEqualTo(403);
    JsonObject error = new JsonObject(refused.body()).getJsonArray("errors").getJsonObject(0);
    assertThat(error.getString("code")).isEqualTo("DENIED");
    assertThat(error.getString("message"))
        .startsWith("registry is read-only: storage is at 58.5% of 1.0 MiB, at or over the 50% write ratio");
    assertThat(client.get("/v2/ro/app/blobs/" + digest(blob)).status()).as("pulls still work").isEqualTo(200);
    assertThat(client.delete("/v2/ro/app/blobs/" + digest(blob)).status()).as("deletes still work").isEqualTo(202);

    await(proxy.configured().refresh());

    assertThat(client.pushBlob("ro/other", randomBytes(KiB)).status()).as("writable again").isEqualTo(201);
  }

  @Test
  void readOnlySetByHandRefusesPushesWhateverTheUsage() throws Exception {
    Deployed proxy = harness.startProxy("""
        quota:
          system:
            read-only: true
        """);

    Reply refused = proxy.client().startUpload("forced/app");

    assertThat(refused.status()).isEqualTo(403);
    assertThat(new JsonObject(refused.body()).getJsonArray("errors").getJsonObject(0).getString("message"))
        .startsWith("registry is read-only: set by an administrator");
  }

  @Test
  void configuredLimitsAreWrittenAgainWhenRedisLosesThem() throws Exception {
    Deployed proxy = harness.startProxy("""
        quota:
          scopes:
            lost: {storage-hard: 100KiB}
        """);
    harness.redis().flushAll();
    assertThat(proxy.client().pushBlob("lost/app", randomBytes(200 * KiB)).status()).as("no limit while it is gone").isEqualTo(201);

    await(proxy.configured().refresh());

    assertThat(proxy.client().pushBlob("lost/app", randomBytes(200 * KiB)).status()).isEqualTo(403);
  }

  @Test
  void withTheStoreDownPushesFailClosedAndPullsKeepWorking() throws Exception {
    Deployed closed = harness.startProxy("");
    Deployed open = harness.startProxy("", "--quota.fail-open", "true");
    byte[] blob = randomBytes(100 * KiB);
    assertThat(closed.client().pushBlob("down/app", blob).status()).isEqualTo(201);

    harness.redis().close();

    Reply refused = closed.client().pushBlob("down/app", randomBytes(KiB));
    assertThat(refused.status()).isEqualTo(503);
    assertThat(refused.header("Retry-After")).contains("5");
    assertThat(new JsonObject(refused.body()).getJsonArray("errors").getJsonObject(0).getString("code")).isEqualTo("UNAVAILABLE");
    assertThat(closed.client().get("/v2/down/app/blobs/" + digest(blob)).status()).isEqualTo(200);
    assertThat(open.client().pushBlob("down/app", randomBytes(KiB)).status()).as("fail-open lets it through").isEqualTo(201);
  }
}
