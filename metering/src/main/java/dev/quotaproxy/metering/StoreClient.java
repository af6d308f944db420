package dev.quotaproxy.metering;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * One Redis client of the quota store (one per event loop, and one for the process's maintenance), and
 * what every call through it shares: the guard each call passes (a timeout, a bound on the calls waiting
 * at once, and its timing), the scripts, the event numbers seen, and which namespaces it has listed.
 * Every part of the store ({@link RedisQuotaStore}, {@link RedisLimits}, {@link UsageReader},
 * {@link NamespaceGate}, {@link RequestLeases}) calls Redis through one of these.
 *
 * <p>Byte counts must stay below 2^53 (8 PiB): Lua computes in doubles, exact only up to there. Larger
 * values are refused with a failed future rather than silently rounded.
 */
public final class StoreClient {
  /** Longest wait for one store call; Redis answers in well under a millisecond when it is healthy. */
  static final long CALL_TIMEOUT_MILLIS = 2_000;
  /**
   * Store calls of one client (one event loop) waiting for Redis at once. Healthy, a call takes well under
   * a millisecond and a few dozen wait; a Redis slowed to seconds would otherwise gather every push that
   * arrives meanwhile, each holding its connection and buffers until its timeout.
   */
  static final int MAX_CALLS_IN_FLIGHT = 1024;
  /** Requests that may queue for a pooled connection: a burst of uploads must wait, not fail. */
  static final int MAX_POOL_WAITING = 8192;
  /** Requests in flight on one connection (pipelined) before the client refuses more. */
  static final int MAX_WAITING_HANDLERS = 8192;
  static final long MAX_EXACT = 1L << 53;
  /**
   * A client adds each namespace it writes to {@link QuotaKeys#NAMESPACES} again after this long, so a
   * list lost on its own (deleted by hand) is whole again within it.
   */
  static final long RELIST_MILLIS = 10_000;
  /** Names the pools for the pool metrics, which would otherwise carry a random id per client. */
  private static final AtomicInteger CLIENTS = new AtomicInteger();

  final Vertx vertx;
  final Redis redis;
  final LuaScripts scripts;
  final SeenSequences seen;
  private final boolean ownsClient;
  private final CallTimer timer;
  private final AtomicInteger inFlight = new AtomicInteger();
  private volatile int maxCallsInFlight = MAX_CALLS_IN_FLIGHT;
  /** When this client last added each namespace to {@link QuotaKeys#NAMESPACES}. */
  private final Map<String, Long> listedAt = new ConcurrentHashMap<>();

  private StoreClient(Vertx vertx, Redis redis, boolean ownsClient, CallTimer timer, EmittedEvents events, SeenSequences seen) {
    this.vertx = vertx;
    this.seen = seen;
    this.redis = redis;
    this.ownsClient = ownsClient;
    this.timer = timer;
    this.scripts = new LuaScripts(redis, events, seen);
  }

  /**
   * A client with its own pool, handing every event its scripts append to {@code events} and timing every
   * call with {@code timer}. The client's defaults (6 connections, 24 waiting requests) fail requests under
   * a few dozen concurrent uploads, so the pool is sized here and waiting is generous. Call
   * {@link #loadScripts()} before serving; {@link #close()} closes the pool.
   */
  public static StoreClient create(Vertx vertx, RedisClients redis, int poolSize, EmittedEvents events, CallTimer timer) {
    return create(vertx, redis, poolSize, events, timer, new SeenSequences());
  }

  /** As {@link #create(Vertx, RedisClients, int, EmittedEvents, CallTimer)}, for one of a process's clients: {@code seen} is the process's. */
  public static StoreClient create(Vertx vertx, RedisClients redis, int poolSize, EmittedEvents events, CallTimer timer,
      SeenSequences seen) {
    RedisOptions options = redis.options()
        .setMaxPoolSize(poolSize)
        .setMaxPoolWaiting(MAX_POOL_WAITING)
        .setMaxWaitingHandlers(MAX_WAITING_HANDLERS)
        .setPoolName("quota-store-" + CLIENTS.incrementAndGet());
    return new StoreClient(vertx, redis.create(vertx, options), true, timer, events, seen);
  }

  /** As {@link #create(Vertx, RedisClients, int, EmittedEvents, CallTimer)}, on one standalone Redis at this URL. */
  public static StoreClient create(Vertx vertx, String redisUrl, int poolSize, EmittedEvents events, CallTimer timer) {
    return create(vertx, RedisClients.standalone(redisUrl), poolSize, events, timer);
  }

  /** As {@link #create(Vertx, RedisClients, int, EmittedEvents, CallTimer)}, with no one receiving events and no timing. */
  public static StoreClient create(Vertx vertx, RedisClients redis, int poolSize) {
    return create(vertx, redis, poolSize, EmittedEvents.NONE, CallTimer.UNTIMED);
  }

  /** As {@link #create(Vertx, String, int, EmittedEvents, CallTimer)}, with no one receiving events and no timing. */
  public static StoreClient create(Vertx vertx, String redisUrl, int poolSize) {
    return create(vertx, redisUrl, poolSize, EmittedEvents.NONE, CallTimer.UNTIMED);
  }

  /**
   * Over a client someone else owns (and closes), for reads: its calls are timed nowhere, and without a
   * Vert.x a namespace restored a moment ago is not waited for.
   */
  public static StoreClient over(Redis redis) {
    return new StoreClient(null, redis, false, CallTimer.UNTIMED, EmittedEvents.NONE, new SeenSequences());
  }

  /** Sends every script to Redis once: fails if Redis is unreachable or rejects a script. */
  public Future<Void> loadScripts() {
    return scripts.load();
  }

  /** Closes the pool if this client created it. */
  public Future<Void> close() {
    return ownsClient ? redis.close() : Future.succeededFuture();
  }

  /**
   * Runs an operation, turning an invalid (or missing) argument into a failed future like any other
   * failure, and times it: every call of the store passes here, so this is where Redis latency is measured.
   */
  <T> Future<T> guarded(String name, Supplier<Future<T>> operation) {
    // A slow Redis must not gather a queue of waiting pushes: past the bound a call fails at once, as an
    // unreachable store does (503, or through when failing open), without sending anything.
    if (inFlight.incrementAndGet() > maxCallsInFlight) {
      inFlight.decrementAndGet();
      return Future.failedFuture(new StoreOverloadedException(maxCallsInFlight));
    }
    try {
      // A Redis that stops answering must not hold a push forever: past this the call counts as failed
      // (503, or through when failing open). A reservation that still lands later expires with its TTL.
      return timer.time(name, () -> operation.get().timeout(CALL_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS))
          .onComplete(done -> inFlight.decrementAndGet());
    } catch (IllegalArgumentException | NullPointerException e) {
      inFlight.decrementAndGet();
      return Future.failedFuture(e);
    }
  }

  /** Refuses an argument: thrown inside {@link #guarded}, it fails the call before anything is sent. */
  static void check(boolean valid, String message) {
    if (!valid) {
      throw new IllegalArgumentException(message);
    }
  }

  static void checkId(String id) {
    check(id != null && !id.isEmpty(), "a reservation id is required");
  }

  /** Whether this client listed the namespace less than {@link #RELIST_MILLIS} before {@code now}. */
  boolean listedSince(String namespace, long now) {
    Long listed = listedAt.get(namespace);
    return listed != null && now - listed < RELIST_MILLIS;
  }

  /** Adds the namespace to {@link QuotaKeys#NAMESPACES}, remembering that it did at {@code now}. */
  Future<Void> list(String namespace, long now) {
    return redis.send(Request.cmd(Command.SADD).arg(QuotaKeys.NAMESPACES).arg(namespace)).map(added -> {
      listedAt.put(namespace, now);
      return null;
    });
  }

  /** Calls waiting for Redis now (for tests and the bound above). */
  int callsInFlight() {
    return inFlight.get();
  }

  /** Bounds the calls that may wait for Redis at once (the default is {@link #MAX_CALLS_IN_FLIGHT}). */
  StoreClient limitCallsInFlight(int max) {
    this.maxCallsInFlight = max;
    return this;
  }

  /** Too many store calls are waiting for Redis (it is slow): this one was not sent. */
  public static final class StoreOverloadedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    StoreOverloadedException(int max) {
      super(max + " quota store calls are already waiting for Redis", null, false, false);
    }
  }
}
