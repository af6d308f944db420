package dev.quotaproxy.proxy;

import static dev.quotaproxy.proxy.support.OciTestClient.image;
import static dev.quotaproxy.proxy.support.OciTestClient.randomBytes;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.ledger.EmbeddedPostgresServer;
import dev.quotaproxy.proxy.support.OciTestClient.Image;
import dev.quotaproxy.proxy.support.ProxyProcess;
import dev.quotaproxy.ledger.support.RealRegistry;
import dev.quotaproxy.proxy.support.Skopeo;
import dev.quotaproxy.metering.support.TestRedis;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A limit changed through the admin API of one proxy process governs the next skopeo push through
 * either: the built jar runs twice, two JVMs sharing one Redis and one Postgres in front of one real
 * registry, and the real skopeo pushes through them. Lowered, the push is refused with the new figure
 * in skopeo's error; raised again, it goes through. Run by failsafe in {@code mvn verify}; the
 * processes' output is in {@code target/admin-limits-it/} and printed when the test fails.
 */
class AdminLimitsSkopeoIT {
  private static final int KiB = 1024;
  private static final String TOKEN = "it-admin-token-0123456789";

  static RealRegistry registry;
  static TestRedis redis;
  static EmbeddedPostgresServer postgres;
  static Path work;
  static final List<ProxyProcess> proxies = new ArrayList<>();
  static final List<String> admins = new ArrayList<>();
  static final HttpClient http = HttpClient.newHttpClient();

  @BeforeAll
  static void start() throws Exception {
    Skopeo.assumeInstalled();
    registry = RealRegistry.start();
    redis = TestRedis.start();
    postgres = EmbeddedPostgresServer.start();
    work = Files.createDirectories(targetDirectory().resolve("admin-limits-it"));
    for (int n = 1; n <= 2; n++) {
      proxies.add(ProxyProcess.start(targetDirectory().resolve("quota-proxy.jar"), work.resolve("proxy-" + n + ".log"), List.of(
          "--upstream", registry.url(), "--redis.url", redis.url(), "--proxy.event-loops", "1", "--admin.token", TOKEN,
          "--postgres.url", "postgresql://postgres:postgres@127.0.0.1:" + postgres.port() + "/postgres")));
    }
    for (ProxyProcess proxy : proxies) {
      proxy.awaitReady(Duration.ofSeconds(90));
      admins.add(proxy.adminOrigin(Duration.ofSeconds(30)));
    }
  }

  @AfterAll
  static void stop() throws Exception {
    proxies.forEach(ProxyProcess::close);
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
  void aLimitLoweredThroughOneInstanceRefusesTheNextSkopeoPushThroughBothAndRaisedAgainLetsItThrough() throws Exception {
    try {
      Image image = image(randomBytes(600 * KiB), randomBytes(100 * KiB));
      Path layout = Skopeo.layout(Files.createDirectories(work.resolve("layout-" + System.nanoTime())), "1", image);

      putLimit(admins.get(0), "acme", "256KiB");
      for (ProxyProcess proxy : proxies) {
        Skopeo.Result refused = Skopeo.copy(layout, "1", hostPort(proxy), "acme/app");
        assertThat(refused.succeeded()).as("skopeo through %s:%n%s", proxy.origin(), refused.output()).isFalse();
        assertThat(refused.output()).contains("quota exceeded").contains("256.0 KiB storage limit");
      }

      putLimit(admins.get(1), "acme", "10MiB");
      Skopeo.Result pushed = Skopeo.copy(layout, "1", hostPort(proxies.get(0)), "acme/app");
      assertThat(pushed.succeeded()).as("skopeo through the first process:%n%s", pushed.output()).isTrue();
      Skopeo.Result again = Skopeo.copy(layout, "1", hostPort(proxies.get(1)), "acme/web");
      assertThat(again.succeeded()).as("skopeo through the second process:%n%s", again.output()).isTrue();

      // Both repositories hold the same blobs: the namespace pays once for what the registry stores
      // (the image, and any blob a refused attempt had committed before it was stopped).
      JsonObject usage = get(admins.get(1), "/api/v1/usage?scope=acme");
      assertThat(usage.getJsonObject("usage").getJsonObject("storage_bytes").getLong("usage"))
          .isEqualTo(storedBytes())
          .isGreaterThanOrEqualTo(image.totalSize());
      assertThat(usage.getJsonObject("usage").getJsonObject("storage_bytes").getLong("limit")).isEqualTo(10L << 20);

      // Lowered below what is stored: accepted, and the next push of anything new is refused everywhere.
      putLimit(admins.get(1), "acme", "512KiB");
      Path other = Skopeo.layout(Files.createDirectories(work.resolve("layout-" + System.nanoTime())), "2", image(randomBytes(10 * KiB)));
      Skopeo.Result blocked = Skopeo.copy(other, "2", hostPort(proxies.get(0)), "acme/app");
      assertThat(blocked.succeeded()).isFalse();
      assertThat(blocked.output()).contains("512.0 KiB");
    } catch (Throwable failed) {
      for (ProxyProcess proxy : proxies) {
        System.out.println("==== " + proxy.log() + " (" + proxy.origin() + ")\n" + proxy.output());
      }
      throw failed;
    }
  }

  private static void putLimit(String admin, String scope, String hard) throws Exception {
    var response = http.send(HttpRequest.newBuilder(URI.create(admin + "/api/v1/limits?scope=" + scope))
        .header("Authorization", "Bearer " + TOKEN).header("Content-Type", "application/json")
        .PUT(HttpRequest.BodyPublishers.ofString(new JsonObject().put("storage_hard", hard).encode())).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    assertThat(new JsonObject(response.body()).getBoolean("in_force")).isTrue();
  }

  private static JsonObject get(String admin, String path) throws Exception {
    var response = http.send(HttpRequest.newBuilder(URI.create(admin + path)).header("Authorization", "Bearer " + TOKEN).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    return new JsonObject(response.body());
  }

  /** Bytes of every blob in the registry's storage (only acme's repositories were pushed to). */
  private static long storedBytes() throws Exception {
    try (var files = Files.walk(registry.storage().resolve("docker/registry/v2/blobs"))) {
      return files.filter(file -> file.getFileName().toString().equals("data")).mapToLong(file -> file.toFile().length()).sum();
    }
  }

  private static String hostPort(ProxyProcess proxy) {
    return proxy.origin().substring("http://".length());
  }

  private static Path targetDirectory() throws Exception {
    return Path.of(AdminLimitsSkopeoIT.class.getProtectionDomain().getCodeSource().getLocation().toURI()).getParent();
  }
}
