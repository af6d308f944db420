package dev.quotaproxy.proxy;

import static dev.quotaproxy.proxy.support.OciTestClient.digest;
import static dev.quotaproxy.proxy.support.OciTestClient.randomBytes;
import static dev.quotaproxy.testing.Eventually.await;
import static dev.quotaproxy.testing.Eventually.eventually;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.ledger.EmbeddedPostgresServer;
import dev.quotaproxy.ledger.support.RealRegistry;
import dev.quotaproxy.metering.support.StoreOnRedis;
import dev.quotaproxy.proxy.support.OciTestClient;
import dev.quotaproxy.proxy.support.ProxyProcess;
import dev.quotaproxy.proxy.support.RawHttp;
import dev.quotaproxy.proxy.support.StorageInvariant;
import dev.quotaproxy.metering.support.TestRedis;
import io.vertx.core.Vertx;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A proxy killed with {@code kill -9} in the middle of a push: the bytes it had reserved come back
 * within its requests' lease (here the reservation TTL, 3 s, which bounds it), not after an hour, so
 * the scope is not held full by a dead process; and nothing it had not committed is charged.
 */
class ProxyCrashIT {
  private static final int KiB = 1024;
  private static final int MiB = 1024 * KiB;
  private static final String CONFIG = """
      quota:
        reservation-ttl: 10s
        scopes:
          acme: {storage-hard: 4MiB}
      """;

  private RealRegistry registry;
  private TestRedis redis;
  private EmbeddedPostgresServer postgres;
  private Path work;
  private Vertx vertx;
  private StoreOnRedis stores;
  /** Every proxy started, stopped after the test whatever its outcome. */
  private final List<ProxyProcess> proxies = new java.util.ArrayList<>();

  @BeforeEach
  void start() throws Exception {
    registry = RealRegistry.start();
    redis = TestRedis.start();
    postgres = EmbeddedPostgresServer.start();
    work = Files.createDirectories(targetDirectory().resolve("proxy-crash-it"));
    vertx = Vertx.vertx();
    stores = StoreOnRedis.open(vertx, redis.url(), 2, Duration.ofHours(1));
  }

  @AfterEach
  void stop() throws Exception {
    proxies.forEach(ProxyProcess::close);
    stores.close().await(10, TimeUnit.SECONDS);
    vertx.close().await(10, TimeUnit.SECONDS);
    redis.close();
    postgres.close();
    registry.close();
  }

  @Test
  void theReservationsOfAProxyKilledMidPushComeBackWithinTheirLease() throws Exception {
    ProxyProcess doomed = startProxy("doomed");
    ProxyProcess survivor = startProxy("survivor");
    byte[] big = randomBytes(3 * MiB);
    OciTestClient client = new OciTestClient(doomed.origin());
    String location = client.startUpload("acme/app").header("Location").orElseThrow();
    String target = RawHttp.target(location) + (location.contains("?") ? "&" : "?") + "digest=" + digest(big);
    try (RawHttp slow = RawHttp.connect(doomed.origin())) {
      slow.head("PUT", target, "Content-Type", "application/octet-stream", "Content-Length", Integer.toString(big.length));
      slow.write(Arrays.copyOfRange(big, 0, KiB));
      awaitReserved(big.length, Duration.ofSeconds(20));

      doomed.kill();
    }
    OciTestClient other = new OciTestClient(survivor.origin());
    Instant killed = Instant.now();
    assertThat(other.pushBlob("acme/other", randomBytes(3 * MiB)).status()).as("the dead proxy's room, at once").isEqualTo(403);

    // Within the lease the room is free again: the next reserve purges what expired.
    eventually(Duration.ofSeconds(25).minus(Duration.between(killed, Instant.now())), Duration.ofMillis(500),
        () -> assertThat(other.pushBlob("acme/other", randomBytes(3 * MiB)).status())
            .as("a 3 MiB push within 25 s of the kill").isEqualTo(201));
    System.out.printf("ProxyCrashIT: the killed proxy's 3 MiB came back %d ms after the kill%n",
        Duration.between(killed, Instant.now()).toMillis());
    StorageInvariant.check(registry.storage(), stores);
  }

  private ProxyProcess startProxy(String name) throws Exception {
    Path config = Files.writeString(work.resolve("config.yaml"), CONFIG);
    ProxyProcess proxy = ProxyProcess.start(targetDirectory().resolve("quota-proxy.jar"), work.resolve(name + ".log"), List.of(
        "--upstream", registry.url(), "--redis.url", redis.url(), "--config", config.toString(), "--proxy.event-loops", "1",
        "--postgres.url", "postgresql://postgres:postgres@127.0.0.1:" + postgres.port() + "/postgres"));
    proxies.add(proxy);
    proxy.awaitReady(Duration.ofSeconds(60));
    awaitLimit();
    return proxy;
  }

  private void awaitLimit() throws Exception {
    eventually(Duration.ofSeconds(30),
        () -> assertThat(await(stores.store().scope("acme")).limits().storageHard())
            .as("the limit of acme the proxy wrote to Redis").isEqualTo(4 * MiB));
  }

  private void awaitReserved(long bytes, Duration timeout) throws Exception {
    eventually(timeout,
        () -> assertThat(await(stores.store().scope("acme")).reserved()).as("bytes the slow push reserved").isGreaterThanOrEqualTo(bytes));
  }

  private static Path targetDirectory() throws Exception {
    return Path.of(ProxyCrashIT.class.getProtectionDomain().getCodeSource().getLocation().toURI()).getParent();
  }
}
