package dev.quotaproxy.ledger.support;

import static dev.quotaproxy.testing.Eventually.eventually;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * A real CNCF distribution registry (Debian's {@code docker-registry}) on a free loopback port, with
 * its own configuration: filesystem storage in a temporary directory, delete enabled, no auth (or
 * htpasswd Basic auth, {@link #start(Htpasswd)}). Shared with the proxy module's tests through this
 * module's test jar.
 *
 * <p>Tests that need it are skipped where the binary is missing (a developer machine with only a
 * JDK and Maven), unless {@code REQUIRE_TEST_TOOLS=1} is set, as {@code .ci/run} does: then a
 * missing binary fails them, so CI can never pass by skipping.
 */
public final class RealRegistry implements AutoCloseable {
  private static final String BINARY = "/usr/bin/docker-registry";

  private final Process process;
  private final Path root;
  private final int port;

  private RealRegistry(Process process, Path root, int port) {
    this.process = process;
    this.root = root;
    this.port = port;
  }

  /**
   * The registry's {@code auth: htpasswd:} section: Basic auth against an Apache htpasswd file of
   * bcrypt entries ({@code user:$2y$...}, one a line), in the realm its {@code WWW-Authenticate} names.
   * distribution serves it over plain HTTP too (it only warns), which is what a loopback test needs.
   */
  public record Htpasswd(String realm, Path path) {}

  /** Skips (or, in CI, fails) the calling test when the registry binary is not installed. */
  public static void assumeInstalled() {
    boolean installed = Files.isExecutable(Path.of(BINARY));
    if (!installed && "1".equals(System.getenv("REQUIRE_TEST_TOOLS"))) {
      throw new IllegalStateException(BINARY + " is required (REQUIRE_TEST_TOOLS=1) but not installed");
    }
    Assumptions.assumeTrue(installed, BINARY + " not installed (Debian package docker-registry); skipping");
  }

  public static RealRegistry start() throws IOException, InterruptedException {
    return start(null);
  }

  /** A registry that asks for Basic credentials from the htpasswd file on every request; null for none. */
  public static RealRegistry start(Htpasswd auth) throws IOException, InterruptedException {
    assumeInstalled();
    Path root = Files.createTempDirectory("quota-proxy-registry");
    int port = freePort();
    Path config = Files.writeString(root.resolve("config.yml"), """
        version: 0.1
        log:
          level: warn
          accesslog:
            disabled: true
        storage:
          filesystem:
            rootdirectory: %s
          delete:
            enabled: true
        http:
          addr: 127.0.0.1:%d
          secret: quota-proxy-test-secret
        """.formatted(root.resolve("data"), port) + (auth == null ? "" : """
        auth:
          htpasswd:
            realm: %s
            path: %s
        """.formatted(auth.realm(), auth.path())));
    Process process = new ProcessBuilder(BINARY, "serve", config.toString())
        .redirectErrorStream(true)
        .redirectOutput(root.resolve("registry.log").toFile())
        .start();
    RealRegistry registry = new RealRegistry(process, root, port);
    registry.awaitReady();
    return registry;
  }

  public String url() {
    return "http://127.0.0.1:" + port;
  }

  /** Where the registry keeps its files, to check what it really stored. */
  public Path storage() {
    return root.resolve("data");
  }

  /**
   * Removes a repository's directory from the registry's storage, as an operator cleaning up by hand
   * would: the catalog stops listing it; the blobs it shared stay.
   */
  public void removeRepositoryFiles(String repository) throws IOException {
    Path directory = storage().resolve("docker/registry/v2/repositories").resolve(repository);
    try (var files = Files.walk(directory)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
    }
  }

  private void awaitReady() throws IOException, InterruptedException {
    HttpClient http = HttpClient.newHttpClient();
    eventually(Duration.ofSeconds(30), () -> {
      if (!process.isAlive()) {
        throw new IOException("docker-registry exited: " + Files.readString(root.resolve("registry.log")));
      }
      int status;
      try {
        status = http.send(HttpRequest.newBuilder(URI.create(url() + "/v2/")).build(), HttpResponse.BodyHandlers.discarding())
            .statusCode();
      } catch (IOException notYet) {
        throw new AssertionError("docker-registry is not listening on " + url() + " yet", notYet);
      }
      // 401: up, and asking for the credentials it was configured with.
      assertThat(status).as("docker-registry's answer to GET %s/v2/", url()).isIn(200, 401);
    });
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  @Override
  public void close() throws IOException {
    process.destroy();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try (var files = Files.walk(root)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
    }
  }
}
