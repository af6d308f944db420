package dev.quotaproxy.metering;

import static dev.quotaproxy.testing.Eventually.await;
import static dev.quotaproxy.testing.Eventually.eventually;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.quotaproxy.config.Limits;
import dev.quotaproxy.metering.QuotaStore.Reservation;
import dev.quotaproxy.metering.support.TestRedisCluster;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.net.ServerSocket;
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
 * redis.mode sentinel against real Sentinels: a master, its replica and three Sentinels ({@code redis-server
 * --sentinel}, quorum 2). Decisions are made on the master the Sentinels name; when it dies they promote the
 * replica, and decisions go on there, with the limit the replica had copied. Skipped where redis-server is
 * not installed.
 */
class RedisSentinelTest {
  private static final String MASTER_NAME = "quota";
  private final List<Process> processes = new ArrayList<>();
  private Path directory;
  private Vertx vertx;
  private int masterPort;
  private int replicaPort;
  private Process master;
  private final List<Integer> sentinelPorts = new ArrayList<>();

  @BeforeEach
  void start() throws Exception {
    assumeTrue(TestRedisCluster.available(), "redis-server and redis-cli are not installed");
    directory = Files.createTempDirectory("quota-proxy-sentinel-");
    vertx = Vertx.vertx();
    masterPort = freePort();
    master = server("master", masterPort);
    replicaPort = freePort();
    server("replica", replicaPort, "--replicaof", "127.0.0.1", String.valueOf(masterPort));
    for (int i = 0; i < 3; i++) {
      int port = freePort();
      Path config = Files.writeString(directory.resolve("sentinel-" + i + ".conf"), String.join("\n",
          "port " + port, "bind 127.0.0.1", "dir " + directory,
          "sentinel monitor " + MASTER_NAME + " 127.0.0.1 " + masterPort + " 2",
          "sentinel down-after-milliseconds " + MASTER_NAME + " 1000",
          "sentinel failover-timeout " + MASTER_NAME + " 5000", ""));
      processes.add(new ProcessBuilder("redis-server", config.toString(), "--sentinel")
          .redirectErrorStream(true).redirectOutput(directory.resolve("sentinel-" + i + ".log").toFile()).start());
      sentinelPorts.add(port);
    }
    eventually(Duration.ofSeconds(20), () -> assertThat(cli(replicaPort, "INFO", "replication")).contains("master_link_status:up"));
    // A Sentinel learns of replicas from the master's INFO (every 10 s) and of other Sentinels from their hello
    // messages; one that has not yet, when the master dies, has no replica to promote and no quorum.
    for (int port : sentinelPorts) {
      eventually(Duration.ofSeconds(40), () -> {
        assertThat(lines(cli(port, "SENTINEL", "replicas", MASTER_NAME))).as("the replicas Sentinel %d knows", port)
            .contains(String.valueOf(replicaPort));
        assertThat(lines(cli(port, "SENTINEL", "sentinels", MASTER_NAME))).as("the Sentinels Sentinel %d knows", port)
            .containsAll(sentinelPorts.stream().filter(other -> other != port).map(String::valueOf).toList());
      });
    }
  }

  private static List<String> lines(String reply) {
    return reply.lines().map(String::trim).toList();
  }

  @AfterEach
  void stop() throws Exception {
    if (vertx != null) {
      vertx.close().await(10, TimeUnit.SECONDS);
    }
    for (Process process : processes) {
      process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void decisionsGoOnOnTheReplicaTheSentinelsPromote() throws Exception {
    List<String> sentinels = sentinelPorts.stream().map(port -> "redis://127.0.0.1:" + port).toList();
    StoreClient client = StoreClient.create(vertx, RedisClients.sentinel(sentinels, MASTER_NAME), 2);
    NamespaceGate gate = new NamespaceGate(client);
    RedisQuotaStore store = new RedisQuotaStore(gate, Duration.ofMinutes(10));
    RedisLimits limits = new RedisLimits(client);
    await(limits.putLimits("acme", new Limits(1000, -1, -1, 3600), 1));

    assertThat(await(store.reserveBytes("acme/app", "r1", null, 600, 600)).granted()).isTrue();
    assertThat(await(store.reserveBytes("acme/app", "r2", null, 600, 600)).granted()).as("past the limit").isFalse();
    assertThat(cli(masterPort, "HGET", "qp:{acme}:limits", "acme|hard").trim()).as("written on the master").isEqualTo("1000");
    eventually(Duration.ofSeconds(10), () -> assertThat(cli(replicaPort, "HGET", "qp:{acme}:limits", "acme|hard").trim())
        .as("copied to the replica").isEqualTo("1000"));

    master.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
    eventually(Duration.ofSeconds(30), () -> assertThat(cli(sentinelPorts.get(0), "SENTINEL", "get-master-addr-by-name", MASTER_NAME))
        .as("the Sentinels' master").contains(String.valueOf(replicaPort)));

    // The next decisions are made on the promoted replica, against the limit it had copied.
    eventually(Duration.ofSeconds(30), () -> {
      Reservation granted = await(store.reserveBytes("acme/app", "r3", null, 100, 100));
      assertThat(granted.granted()).isTrue();
    });
    assertThat(await(store.reserveBytes("acme/app", "r4", null, 600, 600)).granted()).as("the limit holds on the new master").isFalse();
    assertThat(cli(replicaPort, "INFO", "replication")).contains("role:master");
  }

  private Process server(String name, int port, String... more) throws IOException {
    List<String> args = new ArrayList<>(List.of("redis-server", "--port", String.valueOf(port), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "no", "--dir", directory.toString(), "--dbfilename", name + ".rdb"));
    args.addAll(List.of(more));
    Process process = new ProcessBuilder(args).redirectErrorStream(true).redirectOutput(directory.resolve(name + ".log").toFile()).start();
    processes.add(process);
    return process;
  }

  private static String cli(int port, String... command) throws IOException, InterruptedException {
    List<String> args = new ArrayList<>(List.of("redis-cli", "-p", String.valueOf(port)));
    args.addAll(List.of(command));
    Process process = new ProcessBuilder(args).redirectErrorStream(true).start();
    String out = new String(process.getInputStream().readAllBytes());
    process.waitFor(10, TimeUnit.SECONDS);
    return out;
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }
}
