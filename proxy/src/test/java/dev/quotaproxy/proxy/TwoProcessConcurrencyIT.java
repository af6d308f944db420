package dev.quotaproxy.proxy;

import static dev.quotaproxy.testing.Eventually.eventually;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.ledger.EmbeddedPostgresServer;
import dev.quotaproxy.metering.QuotaStore.ScopeState;
import dev.quotaproxy.metering.support.StoreOnRedis;
import dev.quotaproxy.proxy.support.ConcurrentPushes;
import dev.quotaproxy.proxy.support.ConcurrentPushes.Outcome;
import dev.quotaproxy.proxy.support.ConcurrentPushes.Push;
import dev.quotaproxy.proxy.support.ConcurrentPushes.Style;
import dev.quotaproxy.proxy.support.ConcurrentPushes.Tally;
import dev.quotaproxy.proxy.support.OciTestClient;
import dev.quotaproxy.proxy.support.ProxyProcess;
import dev.quotaproxy.ledger.support.RealRegistry;
import dev.quotaproxy.metering.support.TestRedis;
import io.vertx.core.Vertx;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The acceptance race across processes: the built jar ({@code target/quota-proxy.jar}) runs twice, as
 * two JVMs sharing one Redis and one Postgres in front of one real registry, and 32 clients push distinct 1 MiB blobs
 * at the same moment into a scope limited to 10 MiB, 16 through each process. The invariants are those
 * of {@link ConcurrentPushTest}, read from the shared Redis: no overshoot, usage equal to what the
 * registry accepted, nothing left reserved, every refusal a justified 403; with {@code Content-Length}
 * exactly ten accepted (chunked races usually fill it too, at least one gets through: see {@link ConcurrentPushTest}).
 *
 * <p>Run by failsafe in {@code mvn verify}, after the jar is packaged. Each process's output goes to
 * {@code target/two-process-it/proxy-N.log} and is printed when a test fails; the processes are
 * always stopped. Skipped where docker-registry is not installed, unless REQUIRE_TEST_TOOLS=1.
 */
class TwoProcessConcurrencyIT {
  private static final int MiB = 1024 * 1024;
  private static final long LIMIT = 10L * MiB;
  private static final String CONFIG = """
      quota:
        chunk-reservation: 64KiB
        scopes:
          length: {storage-hard: 10MiB}
          chunked: {storage-hard: 10MiB}
      """;

  static RealRegistry registry;
  static TestRedis redis;
  static EmbeddedPostgresServer postgres;
  static Path work;
  static final List<ProxyProcess> proxies = new ArrayList<>();
  static Vertx vertx;
  static StoreOnRedis stores;

  @BeforeAll
  static void start() throws Exception {
    registry = RealRegistry.start();
    redis = TestRedis.start();
    postgres = EmbeddedPostgresServer.start();
    work = Files.createDirectories(targetDirectory().resolve("two-process-it"));
    for (int n = 1; n <= 2; n++) {
      proxies.add(
          startProxy("proxy-" + n, List.of("--postgres.url", "postgresql://postgres:postgres@127.0.0.1:" + postgres.port() + "/postgres")));
    }
    for (ProxyProcess proxy : proxies) {
      proxy.awaitReady(Duration.ofSeconds(60));
    }
    vertx = Vertx.vertx();
    stores = StoreOnRedis.open(vertx, redis.url(), 2, Duration.ofHours(1));
    // A proxy listens before its configured limits are written: wait for them, or the race would be unlimited.
    for (String scope : List.of("length", "chunked")) {
      awaitLimit(scope);
    }
  }

  @AfterAll
  static void stop() throws Exception {
    proxies.forEach(ProxyProcess::close);
    if (stores != null) {
      stores.close().await(10, TimeUnit.SECONDS);
    }
    if (vertx != null) {
      vertx.close().await(10, TimeUnit.SECONDS);
    }
    if (redis != null) {
      redis.close();
    }
    if (postgres != null) {
      postgres.close();
    }
    if (registry != null) {
      registry.close();
    }
  }

  @Test
  void twoProcessesSharingOneRedisAcceptExactlyTheLimitOfContentLengthPushes() throws Exception {
    race("length", Style.CONTENT_LENGTH, 10);
  }

  @Test
  void twoProcessesSharingOneRedisNeverPassTheLimitWithChunkedPushes() throws Exception {
    race("chunked", Style.CHUNKED, 1);
  }

  /**
   * A third process on the same Redis but its own embedded Postgres would restore Redis from a ledger
   * that knows nothing of the others' pushes, wiping their counters: it must refuse to start instead.
   */
  @Test
  void aProcessWithAnotherLedgerRefusesToStartOnTheSharedRedis() throws Exception {
    try (ProxyProcess stranger = startProxy("proxy-other-ledger", List.of())) {
      OptionalInt exit = stranger.awaitExit(Duration.ofSeconds(60));
      assertThat(exit).as("the process with its own ledger, output:%n%s", stranger.output()).hasValue(1);
      assertThat(stranger.output()).contains("this Redis belongs to ledger").contains("--postgres.url");
    }
  }

  private static ProxyProcess startProxy(String name, List<String> more) throws Exception {
    Path config = Files.writeString(work.resolve("config.yaml"), CONFIG);
    List<String> settings = new ArrayList<>(List.of(
        "--upstream", registry.url(), "--redis.url", redis.url(), "--config", config.toString(), "--proxy.event-loops", "1"));
    settings.addAll(more);
    return ProxyProcess.start(targetDirectory().resolve("quota-proxy.jar"), work.resolve(name + ".log"), settings);
  }

  private static void race(String namespace, Style style, int minAccepted) throws Exception {
    try {
      List<Push> pushes = ConcurrentPushes.pushes(32, MiB, namespace, proxies.stream().map(ProxyProcess::origin).toList());

      List<Outcome> outcomes = ConcurrentPushes.race(pushes, style);

      System.out.printf("TwoProcessConcurrencyIT %s, %s: %s%n", namespace, style, ConcurrentPushes.summary(outcomes));
      Tally tally = ConcurrentPushes.verify(outcomes, LIMIT, minAccepted, () -> scope(namespace),
          new OciTestClient(registry.url()), registry.storage());
      System.out.printf("TwoProcessConcurrencyIT %s: %s%n", namespace, tally);
    } catch (Throwable failed) {
      for (ProxyProcess proxy : proxies) {
        System.out.println("==== " + proxy.log() + " (" + proxy.origin() + ")\n" + proxy.output());
      }
      throw failed;
    }
  }

  private static ScopeState scope(String name) throws Exception {
    return stores.store().scope(name).await(10, TimeUnit.SECONDS);
  }

  private static void awaitLimit(String scope) throws Exception {
    eventually(Duration.ofSeconds(30),
        () -> assertThat(scope(scope).limits().storageHard()).as("the limit of %s the proxies wrote to Redis", scope).isEqualTo(LIMIT));
  }

  /** The module's target directory: where the test classes were compiled to, one up. */
  private static Path targetDirectory() throws Exception {
    return Path.of(TwoProcessConcurrencyIT.class.getProtectionDomain().getCodeSource().getLocation().toURI()).getParent();
  }
}
