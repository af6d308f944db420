package dev.quotaproxy.metering.support;

import dev.quotaproxy.config.Limits;
import dev.quotaproxy.config.SystemSettings;
import dev.quotaproxy.metering.CallTimer;
import dev.quotaproxy.metering.EmittedEvents;
import dev.quotaproxy.metering.LiveReservations;
import dev.quotaproxy.metering.NamespaceGate;
import dev.quotaproxy.metering.NamespaceRecovery;
import dev.quotaproxy.metering.RedisClients;
import dev.quotaproxy.metering.RedisLimits;
import dev.quotaproxy.metering.RedisQuotaStore;
import dev.quotaproxy.metering.RequestLeases;
import dev.quotaproxy.metering.StoreClient;
import dev.quotaproxy.metering.UsageReader;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.time.Duration;

/**
 * The parts of the quota store on one client of their own, wired as the proxy wires its maintenance
 * client: the request-path store, the limit writes, the usage reads and the leases. Closed together.
 */
public record StoreOnRedis(StoreClient client, NamespaceGate gate, RedisQuotaStore store, RedisLimits limits, UsageReader usage,
    RequestLeases leases) {

  /** Without a ledger (namespaces are marked new), events or live reservations. */
  public static StoreOnRedis open(Vertx vertx, String redisUrl, int poolSize, Duration reservationTtl) {
    return open(vertx, redisUrl, poolSize, reservationTtl, EmittedEvents.NONE, null, null);
  }

  /**
   * @param live     the process's requests' reservations, renewed by {@link #leases()}; null: none kept
   * @param recovery how unknown namespaces are made known; null: they are marked new
   */
  public static StoreOnRedis open(Vertx vertx, String redisUrl, int poolSize, Duration reservationTtl, EmittedEvents events,
      LiveReservations live, NamespaceRecovery recovery) {
    return open(vertx, redisUrl, poolSize, reservationTtl, events, live, recovery, CallTimer.UNTIMED);
  }

  /** As the proxy opens its stores: every call timed by {@code timer} (its metrics). */
  public static StoreOnRedis open(Vertx vertx, String redisUrl, int poolSize, Duration reservationTtl, EmittedEvents events,
      LiveReservations live, NamespaceRecovery recovery, CallTimer timer) {
    return open(vertx, RedisClients.standalone(redisUrl), poolSize, reservationTtl, events, live, recovery, timer);
  }

  /** On any Redis deployment (standalone, Cluster, Sentinel), as {@link RedisClients} makes its clients. */
  public static StoreOnRedis open(Vertx vertx, RedisClients redis, int poolSize, Duration reservationTtl, EmittedEvents events,
      LiveReservations live, NamespaceRecovery recovery, CallTimer timer) {
    StoreClient client = StoreClient.create(vertx, redis, poolSize, events, timer);
    NamespaceGate gate = recovery == null ? new NamespaceGate(client) : new NamespaceGate(client, recovery);
    return new StoreOnRedis(client, gate, new RedisQuotaStore(gate, reservationTtl, live), new RedisLimits(client), new UsageReader(gate),
        new RequestLeases(client, live, reservationTtl));
  }

  /**
   * Sets a scope's limits as a test does, at revision 0: they replace what an earlier test write set, and
   * any revision the ledger recorded wins over them.
   */
  public Future<Void> putLimits(String scope, Limits scopeLimits) {
    return limits.putLimits(scope, scopeLimits, 0).mapEmpty();
  }

  /** Sets the system settings at revision 0, as {@link #putLimits} does limits. */
  public Future<Void> putSystemSettings(SystemSettings settings) {
    return limits.putSystemSettings(settings, 0).mapEmpty();
  }

  public Future<Void> close() {
    return client.close();
  }
}
