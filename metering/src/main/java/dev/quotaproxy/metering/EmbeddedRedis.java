package dev.quotaproxy.metering;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.embedded.RedisServer;
import redis.embedded.core.ExecutableProvider;

/**
 * A private redis-server on a free loopback port, for the quick start (no Redis URL configured) and
 * for tests. Nothing is persisted: the data lives as long as the process.
 *
 * <p>The system's {@code /usr/bin/redis-server} is preferred when it exists (a current, distribution
 * maintained build that needs no unpacking); otherwise the binary bundled in the embedded-redis jar
 * is unpacked to a temporary directory and run, so a machine with only a JDK still works.
 *
 * <p>{@link #start()} and {@link #close()} block while the process starts or stops: call them at
 * startup or shutdown, never on an event loop.
 */
public final class EmbeddedRedis implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(EmbeddedRedis.class);
  private static final File SYSTEM_BINARY = new File("/usr/bin/redis-server");
  /** The free port is found by binding and releasing it; another process may take it meanwhile, so try again. */
  private static final int START_ATTEMPTS = 3;

  private final RedisServer server;
  private final int port;
  private final Path dataDirectory;

  private EmbeddedRedis(RedisServer server, int port, Path dataDirectory) {
    this.server = server;
    this.port = port;
    this.dataDirectory = dataDirectory;
  }

  /** Starts a server and waits until it accepts connections. */
  public static EmbeddedRedis start() throws IOException {
    ExecutableProvider executable = executable();
    IOException last = null;
    for (int attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
      int port = freeLoopbackPort();
      // Redis writes nothing with these settings, but `dir` defaults to the binary's directory
      // (the process's working directory): point it somewhere that is ours to delete.
      Path dataDirectory = Files.createTempDirectory("quota-proxy-redis-");
      try {
        RedisServer server = RedisServer.newRedisServer()
            .executableProvider(executable)
            .bind("127.0.0.1")
            .port(port)
            .setting("save \"\"")
            .setting("appendonly no")
            .setting("dir " + dataDirectory.toAbsolutePath())
            .soutListener(line -> LOG.debug("redis-server: {}", line))
            .serrListener(line -> LOG.warn("redis-server: {}", line))
            .build();
        server.start();
        LOG.info("embedded Redis ({}) listening on 127.0.0.1:{}", executable.get(), port);
        return new EmbeddedRedis(server, port, dataDirectory);
      } catch (IOException e) {
        deleteRecursively(dataDirectory);
        last = e;
        LOG.debug("embedded Redis did not start on port {} (attempt {})", port, attempt, e);
      }
    }
    throw last;
  }

  /** {@code redis://127.0.0.1:PORT}. */
  public String url() {
    return "redis://127.0.0.1:" + port;
  }

  public int port() {
    return port;
  }

  /** Stops the server (its data is gone). */
  @Override
  public void close() throws IOException {
    try {
      server.stop();
    } finally {
      deleteRecursively(dataDirectory);
    }
  }

  private static ExecutableProvider executable() throws IOException {
    if (SYSTEM_BINARY.isFile() && SYSTEM_BINARY.canExecute()) {
      return () -> SYSTEM_BINARY;
    }
    // Unpack the bundled binary once, not once per start attempt.
    File bundled = ExecutableProvider.newJarResourceProvider().get();
    return () -> bundled;
  }

  private static int freeLoopbackPort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  private static void deleteRecursively(Path directory) {
    try (Stream<Path> paths = Files.walk(directory)) {
      paths.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
    } catch (IOException | UncheckedIOException e) {
      LOG.debug("could not delete {}", directory, e);
    }
  }
}
