package dev.quotaproxy.admin.reports;

import dev.quotaproxy.admin.AdminApi;
import dev.quotaproxy.admin.AdminTokens;
import dev.quotaproxy.config.AdminTokenConfig;
import dev.quotaproxy.config.AdminTokenConfig.Role;
import dev.quotaproxy.ledger.EmbeddedPostgresServer;
import dev.quotaproxy.ledger.Ledger;
import dev.quotaproxy.ledger.LedgerEvent;
import dev.quotaproxy.ledger.LedgerEvent.BlobAdded;
import dev.quotaproxy.ledger.LedgerEvent.BlobRemoved;
import dev.quotaproxy.ledger.LedgerEvent.ManifestAdded;
import dev.quotaproxy.ledger.LedgerEvent.ManifestRemoved;
import dev.quotaproxy.ledger.LedgerEvent.TrafficMetered;
import dev.quotaproxy.oci.Scopes;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.ext.web.client.HttpRequest;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A real Postgres fed through {@link Ledger#apply} with known pushes and pulls, and the admin router
 * with {@link ReportRoutes} on it, as the proxy wires them. Tokens: {@link #ADMIN} (name {@code ops})
 * and {@link #VIEWER}, granted {@code acme}.
 */
final class ReportFixture implements AutoCloseable {
  static final String ADMIN = "admin-token-0123456789";
  static final String VIEWER = "viewer-token-0123456789";

  final EmbeddedPostgresServer postgres;
  final Vertx vertx = Vertx.vertx();
  final Pool pool;
  final HttpServer server;
  final WebClient client;
  final List<TrafficMetered> traffic = new ArrayList<>();
  private final Map<String, Long> sequence = new HashMap<>();
  /** Repositories holding something: the first push into one fills it (it counts from then on). */
  private final java.util.Set<String> filled = new HashSet<>();
  private final Ledger ledger;

  ReportFixture() throws Exception {
    postgres = EmbeddedPostgresServer.start();
    postgres.database().migrate();
    pool = postgres.database().pool(vertx, 4);
    ledger = new Ledger(pool);
    AdminTokens tokens = new AdminTokens(List.of(
        new AdminTokenConfig("ops", ADMIN, Role.ADMIN, List.of()),
        new AdminTokenConfig("acme-view", VIEWER, Role.VIEWER, List.of("acme"))));
    var router = AdminApi.router(vertx, tokens, List.of(new ReportRoutes(vertx, pool))).await(20, TimeUnit.SECONDS);
    server = vertx.createHttpServer().requestHandler(router).listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS);
    client = WebClient.create(vertx);
  }

  /**
   * A push as the store reports it: the blobs charged where new (the first link of a repository fills it), the
   * manifest ({@code sha256:m-<repository><at>}), the request's traffic.
   */
  void push(String at, String repository, String user, List<String> chargedScopes, Map<String, Long> blobs) {
    Instant time = Instant.parse(at);
    List<LedgerEvent> events = new ArrayList<>();
    long bytes = 0;
    for (var blob : blobs.entrySet()) {
      events.add(new BlobAdded(id(repository, time), time, repository, user, blob.getKey(), blob.getValue(), chargedScopes,
          filled.add(repository)));
      bytes += blob.getValue();
    }
    events.add(new ManifestAdded(id(repository, time), time, repository, user, manifest(repository, at),
        List.copyOf(blobs.keySet())));
    events.add(metered(repository, user, time, bytes, 0, 1, 0));
    apply(events);
  }

  static String manifest(String repository, String at) {
    return "sha256:m-" + repository + at;
  }

  /** Deletes the manifest pushed at {@code pushedAt} and every blob of the repository, which is empty after. */
  void deleteAll(String at, String repository, String pushedAt, List<String> freedScopes, Map<String, Long> blobs) {
    Instant time = Instant.parse(at);
    List<LedgerEvent> events = new ArrayList<>();
    events.add(new ManifestRemoved(id(repository, time), time, repository, "admin", manifest(repository, pushedAt)));
    int left = blobs.size();
    for (var blob : blobs.entrySet()) {
      events.add(new BlobRemoved(id(repository, time), time, repository, "admin", blob.getKey(), blob.getValue(), freedScopes,
          --left == 0));
    }
    filled.remove(repository);
    apply(events);
  }

  void pull(String at, String repository, String user, long bytes) {
    apply(List.of(metered(repository, user, Instant.parse(at), 0, bytes, 0, 1)));
  }

  private TrafficMetered metered(String repository, String user, Instant at, long in, long out, int pushes, int pulls) {
    TrafficMetered metered = new TrafficMetered(id(repository, at), at, repository, user, at.truncatedTo(ChronoUnit.HOURS),
        in, out, pushes, pulls);
    traffic.add(metered);
    return metered;
  }

  private String id(String repository, Instant at) {
    String namespace = Scopes.namespace(repository);
    long seq = sequence.merge(namespace, 1L, Long::sum);
    return namespace + "/" + at.toEpochMilli() + "-" + seq;
  }

  void apply(List<LedgerEvent> events) {
    try {
      ledger.apply(events).await(20, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  RowSet<Row> sql(String sql, Object... parameters) throws Exception {
    return pool.preparedQuery(sql).execute(Tuple.from(parameters)).await(20, TimeUnit.SECONDS);
  }

  HttpResponse<Buffer> get(String path, String token) throws Exception {
    return send(client.get(server.actualPort(), "127.0.0.1", path), token);
  }

  HttpResponse<Buffer> send(HttpRequest<Buffer> request, String token) throws Exception {
    if (token != null) {
      request.bearerTokenAuthentication(token);
    }
    return request.send().await(30, TimeUnit.SECONDS);
  }

  @Override
  public void close() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
    postgres.close();
  }
}
