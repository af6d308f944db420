package dev.quotaproxy.metering.support;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real Redis Cluster of three primaries on loopback, for one test class: three {@code redis-server
 * --cluster-enabled yes} processes on free ports (each with its bus port, the port plus 10000, free too),
 * joined by {@code redis-cli --cluster create}, ready once every node says {@code cluster_state:ok}.
 * Nothing is persisted; {@link #close()} stops them and deletes their directory.
 */
public final class TestRedisCluster implements AutoCloseable {
  private static final String SERVER = "redis-server";
  private static final String CLI = "redis-cli";
  private static final int PRIMARIES = 3;

  private final Path directory;
  private final List<Integer> ports = new ArrayList<>();
  private final List<Process> servers = new ArrayList<>();

  private TestRedisCluster(Path directory) {
    this.directory = directory;
  }

  /** Whether redis-server and redis-cli can be run here: the cluster tests are skipped without them. */
  public static boolean available() {
    return onPath(SERVER) && onPath(CLI);
  }

  public static TestRedisCluster start() {
    TestRedisCluster cluster;
    try {
      cluster = new TestRedisCluster(Files.createTempDirectory("quota-proxy-cluster-"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    try {
      cluster.startServers();
      cluster.create();
      cluster.awaitOk();
      return cluster;
    } catch (IOException | InterruptedException | RuntimeException e) {
      cluster.close();
      throw new IllegalStateException("could not start a Redis Cluster for the tests: " + e.getMessage(), e);
    }
  }

  /** {@code redis://127.0.0.1:PORT} of each node. */
  public List<String> urls() {
    return ports.stream().map(port -> "redis://127.0.0.1:" + port).toList();
  }

  public List<Integer> ports() {
    return List.copyOf(ports);
  }

  /** Runs redis-cli against one node (with {@code -c}, following redirects): its output. */
  public String cli(int port, String... command) {
    List<String> args = new ArrayList<>(List.of(CLI, "-c", "-p", String.valueOf(port)));
    args.addAll(List.of(command));
    try {
      return run(args, 10);
    } catch (IOException | InterruptedException e) {
      throw new IllegalStateException("redis-cli failed: " + e.getMessage(), e);
    }
  }

  /** Empties every primary (FLUSHALL is node-local). */
  public void flushAll() {
    ports.forEach(port -> cli(port, "FLUSHALL"));
  }

  /** Namespaces named ns0, ns1, ... until one lives in each third of the slots (a node each, as redis-cli assigns them). */
  public static List<String> namespacesOnEveryPrimary() {
    Map<Integer, String> byThird = new TreeMap<>();
    for (int i = 0; byThird.size() < 3; i++) {
      String namespace = "ns" + i;
      byThird.putIfAbsent(slot("qp:{" + namespace + "}:used") * 3 / 16384, namespace);
    }
    return List.copyOf(byThird.values());
  }

  /** The Redis Cluster slot of a key: CRC16 (XMODEM) of its hash tag, or of the whole key without one, mod 16384. */
  public static int slot(String key) {
    int open = key.indexOf('{');
    if (open >= 0) {
      int close = key.indexOf('}', open + 1);
      if (close > open + 1) {
        key = key.substring(open + 1, close);
      }
    }
    int crc = 0;
    for (byte b : key.getBytes(StandardCharsets.UTF_8)) {
      crc ^= (b & 0xff) << 8;
      for (int bit = 0; bit < 8; bit++) {
        crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1;
        crc &= 0xffff;
      }
    }
    return crc % 16384;
  }

  private void startServers() throws IOException, InterruptedException {
    for (int i = 0; i < PRIMARIES; i++) {
      IOException last = null;
      for (int attempt = 0; attempt < 5; attempt++) {
        int port = freePortWithFreeBus();
        Path dir = Files.createDirectories(directory.resolve("node-" + i + "-" + attempt));
        Process server = new ProcessBuilder(SERVER, "--port", String.valueOf(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
            "--cluster-config-file", dir.resolve("nodes.conf").toString(), "--dir", dir.toString(), "--save", "", "--appendonly", "no",
            "--cluster-node-timeout", "5000", "--logfile", dir.resolve("redis.log").toString())
            .redirectErrorStream(true).redirectOutput(dir.resolve("stdout.log").toFile()).start();
        if (answers(port)) {
          servers.add(server);
          ports.add(port);
          last = null;
          break;
        }
        server.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        last = new IOException("redis-server did not start on port " + port);
      }
      if (last != null) {
        throw last;
      }
    }
  }

  private boolean answers(int port) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < deadline) {
      try {
        if (run(List.of(CLI, "-p", String.valueOf(port), "PING"), 2).trim().equals("PONG")) {
          return true;
        }
      } catch (IOException e) {
        // not up yet
      }
      Thread.sleep(50);
    }
    return false;
  }

  private void create() throws IOException, InterruptedException {
    List<String> args = new ArrayList<>(List.of(CLI, "--cluster", "create"));
    ports.forEach(port -> args.add("127.0.0.1:" + port));
    args.addAll(List.of("--cluster-replicas", "0", "--cluster-yes"));
    String output = run(args, 60);
    if (!output.contains("All 16384 slots covered")) {
      throw new IOException("redis-cli --cluster create did not cover every slot: " + output);
    }
  }

  /** Until every node says the cluster is ok and knows all primaries (nodes learn of each other by gossip). */
  private void awaitOk() throws IOException, InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline) {
      boolean ok = true;
      for (int port : ports) {
        String info = run(List.of(CLI, "-p", String.valueOf(port), "CLUSTER", "INFO"), 5);
        ok &= info.contains("cluster_state:ok") && info.contains("cluster_known_nodes:" + PRIMARIES);
      }
      if (ok) {
        return;
      }
      Thread.sleep(100);
    }
    throw new IOException("the cluster did not reach cluster_state:ok in 30 s");
  }

  private static String run(List<String> command, int timeoutSeconds) throws IOException, InterruptedException {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    process.getOutputStream().close();
    if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new IOException(String.join(" ", command) + " did not finish in " + timeoutSeconds + " s");
    }
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (process.exitValue() != 0) {
      throw new IOException(String.join(" ", command) + " exited " + process.exitValue() + ": " + output);
    }
    return output;
  }

  /** A port in 20000..44999 that is free, as is its cluster bus port (port + 10000). */
  private static int freePortWithFreeBus() throws IOException {
    for (int attempt = 0; attempt < 100; attempt++) {
      int port = ThreadLocalRandom.current().nextInt(20_000, 45_000);
      if (free(port) && free(port + 10_000)) {
        return port;
      }
    }
    throw new IOException("no free port pair found");
  }

  private static boolean free(int port) {
    try (ServerSocket socket = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static boolean onPath(String program) {
    String path = System.getenv("PATH");
    if (path == null) {
      return false;
    }
    for (String dir : path.split(File.pathSeparator)) {
      File file = new File(dir, program);
      if (file.isFile() && file.canExecute()) {
        return true;
      }
    }
    return false;
  }

  @Override
  public void close() {
    for (Process server : servers) {
      server.destroy();
    }
    for (Process server : servers) {
      try {
        if (!server.waitFor(10, TimeUnit.SECONDS)) {
          server.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    try (Stream<Path> paths = Files.walk(directory)) {
      paths.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
    } catch (IOException | UncheckedIOException e) {
      // a temporary directory left behind
    }
  }
}
