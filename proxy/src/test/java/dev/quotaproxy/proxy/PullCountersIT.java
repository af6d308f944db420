package dev.quotaproxy.proxy;

import static dev.quotaproxy.proxy.support.OciTestClient.image;
import static dev.quotaproxy.proxy.support.OciTestClient.randomBytes;
import static dev.quotaproxy.testing.Eventually.await;
import static dev.quotaproxy.testing.Eventually.eventually;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.ledger.EmbeddedPostgresServer;
import dev.quotaproxy.ledger.support.RealRegistry;
import dev.quotaproxy.metering.support.TestRedis;
import dev.quotaproxy.proxy.support.OciTestClient;
import dev.quotaproxy.proxy.support.OciTestClient.Image;
import dev.quotaproxy.proxy.support.ProxyProcess;
import io.vertx.core.Vertx;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Pulls are counted in memory and written to Redis in batches, off the request path; what reaches the ledger,
 * and so the reports, is still exact: N pulls are N pulls and N times their bytes, across a graceful restart,
 * whose shutdown writes what the last batch held.
 */
class PullCountersIT {
  private static final int KiB = 1024;
  private static final String CONFIG = """
      quota:
        scopes:
          acme: {storage-hard: 100MiB}
      """;

  private RealRegistry registry;
  private TestRedis redis;
  private EmbeddedPostgresServer postgres;
  private Path work;
  private Vertx vertx;
  private final List<ProxyProcess> proxies = new ArrayList<>();

  @BeforeEach
  void start() throws Exception {
    registry = RealRegistry.start();
    redis = TestRedis.start();
    postgres = EmbeddedPostgresServer.start();
    work = Files.createDirectories(targetDirectory().resolve("pull-counters-it"));
    vertx = Vertx.vertx();
  }

  @AfterEach
  void stop() throws Exception {
    proxies.forEach(ProxyProcess::close);
    vertx.close().await(10, TimeUnit.SECONDS);
    redis.close();
    postgres.close();
    registry.close();
  }

  @Test
  void everyPullReachesTheLedgerExactlyAcrossAGracefulRestart() throws Exception {
    ProxyProcess first = startProxy("first");
    OciTestClient client = new OciTestClient(first.origin());
    byte[] layer = randomBytes(300 * KiB);
    Image image = image(layer);
    assertThat(client.pushImage("acme/app", "1", image).status()).isEqualTo(201);
    String layerPath = "/v2/acme/app/blobs/" + OciTestClient.digest(layer);
    String manifestPath = "/v2/acme/app/manifests/1";

    for (int i = 0; i < 30; i++) {
      assertThat(client.send("GET", manifestPath, java.net.http.HttpRequest.BodyPublishers.noBody(), "Accept",
          "application/vnd.oci.image.manifest.v1+json").status()).isEqualTo(200);
    }
    for (int i = 0; i < 10; i++) {
      assertThat(client.get(layerPath).status()).isEqualTo(200);
    }
    // Graceful: SIGTERM, whose shutdown writes the counters the last batch held.
    first.close();

    ProxyProcess second = startProxy("second");
    OciTestClient again = new OciTestClient(second.origin());
    for (int i = 0; i < 20; i++) {
      assertThat(again.send("GET", manifestPath, java.net.http.HttpRequest.BodyPublishers.noBody(), "Accept",
          "application/vnd.oci.image.manifest.v1+json").status()).isEqualTo(200);
    }

    long pulls = 50;
    long egress = 50 * image.manifestSize() + 10L * layer.length;
    Pool pool = postgres.database().pool(vertx, 1);
    // The second proxy feeds the ledger: its own batches within a flush, the first's from the stream.
    eventually(Duration.ofSeconds(30), () -> {
      Row row = await(pool.query("select coalesce(sum(pulls), 0) as pulls, coalesce(sum(egress_bytes), 0) as egress"
          + " from usage_hourly where scope = 'acme'").execute()).iterator().next();
      assertThat(row.getLong("pulls")).as("pulls of acme in the ledger").isEqualTo(pulls);
      assertThat(row.getLong("egress")).as("egress bytes of acme in the ledger").isEqualTo(egress);
    });
  }

  private ProxyProcess startProxy(String name) throws Exception {
    Path config = Files.writeString(work.resolve("config.yaml"), CONFIG);
    ProxyProcess proxy = ProxyProcess.start(targetDirectory().resolve("quota-proxy.jar"), work.resolve(name + ".log"), List.of(
        "--upstream", registry.url(), "--redis.url", redis.url(), "--config", config.toString(),
        "--postgres.url", "postgresql://postgres:postgres@127.0.0.1:" + postgres.port() + "/postgres"));
    proxies.add(proxy);
    proxy.awaitReady(Duration.ofSeconds(60));
    return proxy;
  }

  private static Path targetDirectory() throws Exception {
    return Path.of(PullCountersIT.class.getProtectionDomain().getCodeSource().getLocation().toURI()).getParent();
  }
}
