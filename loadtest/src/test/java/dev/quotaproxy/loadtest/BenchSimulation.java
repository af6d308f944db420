package dev.quotaproxy.loadtest;

import static io.gatling.javaapi.core.CoreDsl.atOnceUsers;
import static io.gatling.javaapi.core.CoreDsl.constantUsersPerSec;
import static io.gatling.javaapi.core.CoreDsl.during;
import static io.gatling.javaapi.core.CoreDsl.exec;
import static io.gatling.javaapi.core.CoreDsl.exitBlockOnFail;
import static io.gatling.javaapi.core.CoreDsl.global;
import static io.gatling.javaapi.core.CoreDsl.scenario;
import static io.gatling.javaapi.http.HttpDsl.http;

import io.gatling.javaapi.core.ChainBuilder;
import io.gatling.javaapi.core.PopulationBuilder;
import io.gatling.javaapi.core.Simulation;
import io.gatling.javaapi.http.HttpProtocolBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A steady workload for benchmarks (scripts/bench-scale.sh): the pushes and pulls of {@link RegistryClient},
 * a fresh image each time, for a fixed time, so that runs against different targets can be compared by their
 * throughput, latency and cost per request. Nothing is refused: every tenant must have room.
 *
 * <p>Closed (the default): {@code users} users at once, each pushing then pulling image after image for
 * {@code seconds} (then finishing the image it is on): the throughput is what the target serves at that
 * concurrency. Open, with {@code rate} above 0: {@code rate} users a second arrive for {@code seconds}, each
 * pushing and pulling one image: the load is fixed and the latency is what varies. A failed request ends its
 * image, not its user: the run goes on, and fails its assertion if more than {@code maxErrorPercent} failed.
 *
 * <p>Parameters (system properties): {@code baseUrl} [http://127.0.0.1:8080], {@code tenants} [12] (repositories
 * {@code tenant<i>/app<j>}), {@code users} [8], {@code rate} [0: closed], {@code seconds} [20], {@code minKib} [4]
 * to {@code maxKib} [64] per layer, {@code maxErrorPercent} [0], {@code markDir} [none]: a directory through which a
 * script measures exactly the window of the load. Before the first user starts, the simulation writes the file
 * {@code ready} there and waits (up to two minutes) for the script to write {@code go}, so the script can take its
 * "before" figures with nothing yet sent; once the last user is done, before the reports are written, it writes
 * {@code end}. Each file holds the time in milliseconds.
 */
public class BenchSimulation extends Simulation {
  private static final String BASE_URL = System.getProperty("baseUrl", "http://127.0.0.1:8080");
  private static final int TENANTS = Integer.getInteger("tenants", 12);
  private static final int USERS = Integer.getInteger("users", 8);
  private static final double RATE = Double.parseDouble(System.getProperty("rate", "0"));
  private static final int SECONDS = Integer.getInteger("seconds", 20);
  private static final int MIN_KIB = Integer.getInteger("minKib", 4);
  private static final int MAX_KIB = Integer.getInteger("maxKib", 64);
  private static final double MAX_ERROR_PERCENT = Double.parseDouble(System.getProperty("maxErrorPercent", "0"));
  private static final String MARK_DIR = System.getProperty("markDir", "");

  private static final AtomicLong IMAGE_NUMBER = new AtomicLong(System.nanoTime());

  /** A fresh image, in a repository of one of the tenants. */
  private static final ChainBuilder IMAGE = exec(session -> {
    long n = IMAGE_NUMBER.incrementAndGet();
    return session.setAll(OciImages.image(n, OciImages.layerBytes(n, MIN_KIB, MAX_KIB)))
        .set("repository", "tenant" + Math.floorMod(n, TENANTS) + "/app" + Math.floorMod(n / TENANTS, 3))
        .set("tag", "bench-" + Long.toHexString(n));
  });

  /** One image pushed then pulled; a request that fails ends the image (its pull would only fail too), not the user. */
  private static final ChainBuilder PUSH_THEN_PULL = exitBlockOnFail().on(IMAGE, RegistryClient.push(false), RegistryClient.pull());

  private final HttpProtocolBuilder protocol = http.baseUrl(BASE_URL).disableCaching().shareConnections()
      .userAgentHeader("quota-proxy-loadtest (gatling)");

  {
    PopulationBuilder population = RATE > 0
        ? scenario("push then pull").exec(PUSH_THEN_PULL).injectOpen(constantUsersPerSec(RATE).during(Duration.ofSeconds(SECONDS)))
        : scenario("push then pull").exec(during(Duration.ofSeconds(SECONDS)).on(PUSH_THEN_PULL)).injectOpen(atOnceUsers(USERS));
    setUp(population).protocols(protocol).assertions(global().failedRequests().percent().lte(MAX_ERROR_PERCENT));
  }

  @Override
  public void before() {
    if (MARK_DIR.isEmpty()) {
      return;
    }
    mark("ready");
    long deadline = System.currentTimeMillis() + 120_000;
    while (!Files.exists(Path.of(MARK_DIR, "go"))) {
      if (System.currentTimeMillis() > deadline) {
        throw new IllegalStateException("no file 'go' in " + MARK_DIR + " two minutes after 'ready'");
      }
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting for 'go'", e);
      }
    }
  }

  @Override
  public void after() {
    mark("end");
  }

  private static void mark(String name) {
    if (MARK_DIR.isEmpty()) {
      return;
    }
    try {
      Files.writeString(Path.of(MARK_DIR, name), System.currentTimeMillis() + "\n", StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
