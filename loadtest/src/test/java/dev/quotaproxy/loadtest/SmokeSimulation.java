package dev.quotaproxy.loadtest;

import static io.gatling.javaapi.core.CoreDsl.exec;
import static io.gatling.javaapi.core.CoreDsl.global;
import static io.gatling.javaapi.core.CoreDsl.rampUsers;
import static io.gatling.javaapi.core.CoreDsl.scenario;
import static io.gatling.javaapi.http.HttpDsl.http;

import io.gatling.javaapi.core.ChainBuilder;
import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Simulation;
import io.gatling.javaapi.http.HttpProtocolBuilder;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A short push-then-pull run through the proxy, as registry clients make them ({@link RegistryClient}),
 * each user pushing a fresh image into a repository of one of the tenants. Every answer must be the one a
 * registry gives; the run fails its assertions on any error or a slow p99.
 *
 * <p>Parameters (system properties): {@code baseUrl} [http://127.0.0.1:8080], {@code tenants} [3],
 * {@code users} [30] arriving over {@code seconds} [15], {@code minKib} [4] to {@code maxKib} [1024]
 * per layer, {@code p99Ms} [2000], {@code maxErrorPercent} [0].
 */
public class SmokeSimulation extends Simulation {
  private static final String BASE_URL = System.getProperty("baseUrl", "http://127.0.0.1:8080");
  private static final int TENANTS = Integer.getInteger("tenants", 3);
  private static final int USERS = Integer.getInteger("users", 30);
  private static final int SECONDS = Integer.getInteger("seconds", 15);
  private static final int MIN_KIB = Integer.getInteger("minKib", 4);
  private static final int MAX_KIB = Integer.getInteger("maxKib", 1024);
  private static final int P99_MS = Integer.getInteger("p99Ms", 2000);
  private static final double MAX_ERROR_PERCENT = Double.parseDouble(System.getProperty("maxErrorPercent", "0"));

  private static final AtomicLong USER = new AtomicLong(System.nanoTime());

  /** A fresh image for this user, in a repository of one of the tenants. */
  private static final ChainBuilder IMAGE = exec(session -> {
    long n = USER.incrementAndGet();
    return session.setAll(OciImages.image(n, OciImages.layerBytes(n, MIN_KIB, MAX_KIB)))
        .set("repository", "tenant" + Math.floorMod(n, TENANTS) + "/app" + Math.floorMod(n, 3))
        .set("tag", "smoke-" + Long.toHexString(n));
  });

  private final HttpProtocolBuilder protocol = http.baseUrl(BASE_URL).disableCaching().shareConnections()
      .userAgentHeader("quota-proxy-loadtest (gatling)");

  private final ScenarioBuilder pushThenPull = scenario("push then pull").exec(IMAGE, RegistryClient.push(false), RegistryClient.pull());

  {
    setUp(pushThenPull.injectOpen(rampUsers(USERS).during(Duration.ofSeconds(SECONDS))))
        .protocols(protocol)
        .assertions(
            global().failedRequests().percent().lte(MAX_ERROR_PERCENT),
            global().responseTime().percentile(99.0).lt(P99_MS));
  }
}
