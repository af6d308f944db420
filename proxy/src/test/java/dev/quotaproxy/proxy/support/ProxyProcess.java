package dev.quotaproxy.proxy.support;

import static dev.quotaproxy.testing.Eventually.eventually;
import static dev.quotaproxy.testing.Eventually.eventuallyGet;
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
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The proxy as a user runs it: {@code java -jar quota-proxy.jar ...} in a JVM of its own, on a free
 * loopback port, its standard output and error (access log included) captured to a file.
 */
public final class ProxyProcess implements AutoCloseable {
  private final Process process;
  private final Path log;
  private final int port;

  private ProxyProcess(Process process, Path log, int port) {
    this.process = process;
    this.log = log;
    this.port = port;
  }

  /**
   * Launches the jar with the given settings plus {@code --host 127.0.0.1 --port <free port>}, and
   * {@code --admin.port 0} unless the settings name an admin port (two processes cannot both take the
   * default 8081; {@link #adminOrigin} reads the port taken from the log). The child gets no
   * {@code QUOTA_PROXY_*} variables of this environment: only the flags configure it.
   */
  public static ProxyProcess start(Path jar, Path log, List<String> settings) throws IOException {
    if (!Files.isRegularFile(jar)) {
      throw new IllegalStateException(jar + " does not exist: build it first (mvn package, which `mvn verify` runs before this test)");
    }
    int port = freePort();
    List<String> command = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m", "-jar", jar.toString(),
        "--host", "127.0.0.1", "--port", Integer.toString(port)));
    if (!settings.contains("--admin.port")) {
      command.addAll(List.of("--admin.port", "0"));
    }
    command.addAll(settings);
    Files.createDirectories(log.getParent());
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
    builder.environment().keySet().removeIf(name -> name.startsWith("QUOTA_PROXY_"));
    return new ProxyProcess(builder.start(), log, port);
  }

  public String origin() {
    return "http://127.0.0.1:" + port;
  }

  /** What the process printed so far. */
  public String output() {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      return "(cannot read " + log + ": " + e + ")";
    }
  }

  public Path log() {
    return log;
  }

  /** Waits until {@code GET /v2/} through the proxy answers 200 (the registry behind it is up too). */
  public void awaitReady(Duration timeout) throws IOException, InterruptedException {
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    try {
      eventually(timeout, Duration.ofMillis(100), () -> {
        assertAlive();
        int status;
        try {
          status = http.send(HttpRequest.newBuilder(URI.create(origin() + "/v2/")).timeout(Duration.ofSeconds(5)).build(),
              HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (IOException notYet) {
          throw new AssertionError("not listening yet", notYet);
        }
        assertThat(status).as("the answer to GET /v2/ through the proxy").isEqualTo(200);
      });
    } catch (AssertionError notReady) {
      throw new IOException("the proxy on port " + port + " did not answer /v2/ with 200 within " + timeout
          + " (" + notReady.getMessage() + "); its output:\n" + output(), notReady);
    }
  }

  /** The admin API's origin, from the start-up line that names the port it bound; waits for that line. */
  public String adminOrigin(Duration timeout) throws IOException, InterruptedException {
    java.util.regex.Pattern line = java.util.regex.Pattern.compile("admin API listening on (http://[^\\s]+)");
    try {
      return eventuallyGet(timeout, Duration.ofMillis(100), () -> {
        java.util.regex.Matcher found = line.matcher(output());
        if (!found.find()) {
          assertAlive();
          throw new AssertionError("no admin API address logged yet");
        }
        return found.group(1);
      });
    } catch (AssertionError notLogged) {
      throw new IOException("the proxy on port " + port + " logged no admin API address within " + timeout + "; its output:\n" + output(),
          notLogged);
    }
  }

  /** Fails at once, with the output, when the process has exited: waiting on it is no use then. */
  private void assertAlive() throws IOException {
    if (!process.isAlive()) {
      throw new IOException("the proxy on port " + port + " exited with " + process.exitValue() + "; its output:\n" + output());
    }
  }

  /** Waits for the process to exit on its own; its exit code, or empty when it still runs after the timeout. */
  public java.util.OptionalInt awaitExit(Duration timeout) throws InterruptedException {
    return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)
        ? java.util.OptionalInt.of(process.exitValue())
        : java.util.OptionalInt.empty();
  }

  /** Kills the process as {@code kill -9} does: no shutdown hook, nothing flushed or released. */
  public void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(10, TimeUnit.SECONDS);
  }

  /** Stops the process (SIGTERM, then SIGKILL after 10 s) and waits for it. */
  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }
}
