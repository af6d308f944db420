package dev.quotaproxy.loadtest;

import static io.gatling.javaapi.core.CoreDsl.exec;
import static io.gatling.javaapi.core.CoreDsl.global;
import static io.gatling.javaapi.core.CoreDsl.rampUsers;
import static io.gatling.javaapi.core.CoreDsl.scenario;
import static io.gatling.javaapi.http.HttpDsl.http;
import static io.gatling.javaapi.http.HttpDsl.status;

import io.gatling.javaapi.core.ChainBuilder;
import io.gatling.javaapi.core.PopulationBuilder;
import io.gatling.javaapi.core.Simulation;
import io.gatling.javaapi.http.HttpProtocolBuilder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Tenants side by side, some of them at their limit. Every tenant's images share its base layer (pushed
 * once, found by HEAD afterwards, as docker finds a base image's layers); each image adds a layer of its
 * own. The first {@code limitedTenants} tenants are expected to be refused ({@code 403}, {@code 429}):
 * their refusals are counted apart and are no failure; anywhere else a refusal fails the run. With an
 * {@code adminToken}, admins read the usage API and the scope listing while the pushes go on.
 *
 * <p>Parameters (system properties): {@code baseUrl} [http://127.0.0.1:8080], {@code adminUrl}
 * [http://127.0.0.1:8081], {@code adminToken} [none: no admin reads], {@code tenants} [4],
 * {@code limitedTenants} [1], {@code users} [40] arriving over {@code seconds} [20], {@code minKib} [4]
 * to {@code maxKib} [2048] per layer, {@code baseKib} [512], {@code p99Ms} [3000], {@code maxErrorPercent} [0].
 */
public class MixedTenantsSimulation extends Simulation {
  private static final String BASE_URL = System.getProperty("baseUrl", "http://127.0.0.1:8080");
  private static final String ADMIN_URL = System.getProperty("adminUrl", "http://127.0.0.1:8081");
  private static final String ADMIN_TOKEN = System.getProperty("adminToken", "");
  private static final int TENANTS = Integer.getInteger("tenants", 4);
  private static final int LIMITED = Integer.getInteger("limitedTenants", 1);
  private static final int USERS = Integer.getInteger("users", 40);
  private static final int SECONDS = Integer.getInteger("seconds", 20);
  private static final int MIN_KIB = Integer.getInteger("minKib", 4);
  private static final int MAX_KIB = Integer.getInteger("maxKib", 2048);
  private static final int BASE_KIB = Integer.getInteger("baseKib", 512);
  private static final int P99_MS = Integer.getInteger("p99Ms", 3000);
  private static final double MAX_ERROR_PERCENT = Double.parseDouble(System.getProperty("maxErrorPercent", "0"));

  private static final AtomicLong USER = new AtomicLong(System.nanoTime());

  /** A fresh image on the tenant's base layer, in one of the tenant's repositories. */
  private static ChainBuilder image(int tenant) {
    byte[] base = OciImages.bytes(tenant + 1L, BASE_KIB * 1024);
    return exec(session -> {
      long n = USER.incrementAndGet();
      return session.setAll(OciImages.image(n, OciImages.layerBytes(n, MIN_KIB, MAX_KIB), base))
          .set("repository", "tenant" + tenant + "/app" + Math.floorMod(n, 3))
          .set("tag", "mixed-" + Long.toHexString(n));
    });
  }

  private final HttpProtocolBuilder registry = http.baseUrl(BASE_URL).disableCaching().shareConnections()
      .userAgentHeader("quota-proxy-loadtest (gatling)");
  private final HttpProtocolBuilder admin = http.baseUrl(ADMIN_URL).shareConnections()
      .authorizationHeader("Bearer " + ADMIN_TOKEN).acceptHeader("application/json");

  {
    List<PopulationBuilder> populations = new ArrayList<>();
    int perTenant = Math.max(1, USERS / TENANTS);
    for (int tenant = 0; tenant < TENANTS; tenant++) {
      boolean limited = tenant < LIMITED;
      ChainBuilder push = RegistryClient.push(limited);
      populations.add(scenario("tenant" + tenant + (limited ? " (at its limit)" : ""))
          .exec(image(tenant), push, RegistryClient.pull())
          .injectOpen(rampUsers(perTenant).during(Duration.ofSeconds(SECONDS)))
          .protocols(registry));
    }
    if (!ADMIN_TOKEN.isEmpty()) {
      populations.add(scenario("admin reads")
          .exec(
              http("usage of a scope").get("/api/v1/usage").queryParam("scope", session -> "tenant" + Math.floorMod(USER.get(), TENANTS))
                  .check(status().is(200)),
              http("scopes by usage").get("/api/v1/scopes").queryParam("sort", "ratio").check(status().is(200)))
          .injectOpen(rampUsers(Math.max(1, USERS / 4)).during(Duration.ofSeconds(SECONDS)))
          .protocols(admin));
    }
    setUp(populations)
        .assertions(
            global().failedRequests().percent().lte(MAX_ERROR_PERCENT),
            global().responseTime().percentile(99.0).lt(P99_MS));
  }

  @Override
  public void after() {
    System.out.println("refused pushes of limited tenants (expected, not errors): " + RegistryClient.REFUSED.get());
  }
}
