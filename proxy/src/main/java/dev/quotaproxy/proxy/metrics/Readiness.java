package dev.quotaproxy.proxy.metrics;

import io.vertx.core.Future;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.Command;
import dev.quotaproxy.metering.RedisNodes;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.sqlclient.Pool;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Whether this process can serve: each dependency it needs is asked something trivial, all at once,
 * each within {@link #TIMEOUT_MILLIS}. Ready only when every one answers. A check that fails says why,
 * so the probe's body tells an operator where to look.
 */
public final class Readiness {
  /** Short: a probe must answer before the orchestrator's own timeout, even with every dependency hanging. */
  public static final long TIMEOUT_MILLIS = 2_000;

  /** One check's outcome: {@code error} is null when it passed. */
  public record Check(String name, boolean ok, long millis, String error) {
    JsonObject toJson() {
      JsonObject json = new JsonObject().put("ok", ok).put("ms", millis);
      return error == null ? json : json.put("error", error);
    }
  }

  /** All checks' outcomes, in the order they were added. */
  public record Report(List<Check> checks) {
    public boolean ready() {
      return checks.stream().allMatch(Check::ok);
    }

    public JsonObject toJson() {
      JsonObject byName = new JsonObject();
      checks.forEach(check -> byName.put(check.name(), check.toJson()));
      JsonObject json = new JsonObject().put("status", ready() ? "ready" : "not ready").put("checks", byName);
      List<String> failed = checks.stream().filter(check -> !check.ok()).map(Check::name).toList();
      return failed.isEmpty() ? json : json.put("failed", failed);
    }
  }

  private final Map<String, Supplier<Future<?>>> checks = new LinkedHashMap<>();

  /** Adds a check: ready requires {@code check}'s future to succeed in time. */
  public Readiness check(String name, Supplier<Future<?>> check) {
    checks.put(name, check);
    return this;
  }

  /** Redis answers {@code PING}: on a Redis Cluster, every primary (a namespace on one that does not is refused). */
  public static Supplier<Future<?>> redis(Redis redis) {
    return () -> RedisNodes.onEveryPrimary(redis, Request.cmd(Command.PING));
  }

  /** Postgres runs {@code select 1}. */
  public static Supplier<Future<?>> postgres(Pool pool) {
    return () -> pool.query("select 1").execute();
  }

  /**
   * The registry answers {@code GET /v2/} with anything but a server error: 200, or 401 from a registry
   * that wants a token, both mean it is up.
   */
  public static Supplier<Future<?>> upstream(HttpClient client) {
    return () -> client.request(new RequestOptions().setMethod(HttpMethod.GET).setURI("/v2/"))
        .compose(HttpClientRequest::send)
        .compose(response -> response.end().compose(v -> response.statusCode() < 500
            ? Future.succeededFuture()
            : Future.failedFuture("GET /v2/ answered " + response.statusCode())));
  }

  /** Runs every check now; never fails, a failed check is in the report. */
  public Future<Report> run() {
    List<Future<Check>> running = new ArrayList<>();
    checks.forEach((name, check) -> running.add(run(name, check)));
    return Future.join(running).transform(done -> {
      List<Check> results = new ArrayList<>();
      running.forEach(check -> results.add(check.result()));
      return Future.succeededFuture(new Report(results));
    });
  }

  private static Future<Check> run(String name, Supplier<Future<?>> check) {
    long start = System.nanoTime();
    Future<?> answer;
    try {
      answer = check.get().timeout(TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
    } catch (RuntimeException e) {
      answer = Future.failedFuture(e);
    }
    return answer.transform(done -> {
      long millis = (System.nanoTime() - start) / 1_000_000;
      return Future.succeededFuture(done.succeeded()
          ? new Check(name, true, millis, null)
          : new Check(name, false, millis, describe(done.cause())));
    });
  }

  private static String describe(Throwable e) {
    if (e instanceof java.util.concurrent.TimeoutException) {
      return "no answer within " + TIMEOUT_MILLIS + "ms";
    }
    String message = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    return root != e && root.getMessage() != null && !message.contains(root.getMessage()) ? message + ": " + root.getMessage() : message;
  }
}
