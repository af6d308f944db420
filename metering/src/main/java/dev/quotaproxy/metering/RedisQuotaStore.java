package dev.quotaproxy.metering;

import dev.quotaproxy.oci.Scopes;
import dev.quotaproxy.oci.Blob;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import io.vertx.redis.client.ResponseType;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link QuotaStore} over Redis: each operation is one Lua script (see {@link LuaScripts}) over the
 * keys of one namespace (see {@link QuotaKeys}), so it is atomic against every other proxy instance and
 * runs on one shard of a Redis Cluster. This class names the keys, lays out the arguments and turns the
 * scripts' integer replies into the store's records; the arithmetic is in the scripts.
 *
 * <p>Byte counts must stay below 2^53 (8 PiB): Lua computes in doubles, exact only up to there. Larger
 * values are refused with a failed future rather than silently rounded.
 */
public final class RedisQuotaStore implements QuotaStore {
  private static final Logger LOG = LoggerFactory.getLogger(RedisQuotaStore.class);
  /** Longest wait for one store call; Redis answers in well under a millisecond when it is healthy. */
  static final long CALL_TIMEOUT_MILLIS = 2_000;
  /** How long a failed reserve and its release are followed for {@link #inDoubtSettled()}. */
  private static final long IN_DOUBT_MILLIS = 10 * CALL_TIMEOUT_MILLIS;

  /**
   * Store calls of one store (one event loop) waiting for Redis at once. Healthy, a call takes well under
   * a millisecond and a few dozen wait; a Redis slowed to seconds would otherwise gather every push that
   * arrives meanwhile, each holding its connection and buffers until its timeout.
   */
  static final int MAX_CALLS_IN_FLIGHT = 1024;
  private final AtomicInteger inFlight = new AtomicInteger();
  private volatile int maxCallsInFlight = MAX_CALLS_IN_FLIGHT;

  /** Requests that may queue for a pooled connection: a burst of uploads must wait, not fail. */
  static final int MAX_POOL_WAITING = 8192;
  /** Requests in flight on one connection (pipelined) before the client refuses more. */
  static final int MAX_WAITING_HANDLERS = 8192;
  /** Namespaces read per pipelined batch by {@link #systemUsage()}. */
  private static final int NAMESPACES_PER_BATCH = 512;
  private static final long MAX_EXACT = 1L << 53;
  /** The bare reply of a script that found the namespace's state unknown (common.lua). */
  private static final long UNKNOWN = -1;
  /** The reply {4} of a reserving script on a namespace restored a moment ago (common.lua, recovering). */
  private static final long RECOVERING = 4;
  private static final long TRAFFIC_RETENTION_SECONDS = Duration.ofDays(8).toSeconds();
  private static final long HOUR_MILLIS = Duration.ofHours(1).toMillis();
  /** Numbers per scope in a script's state reply: used, reserved, hard, soft, egress, egress window. */
  private static final int STATE_WIDTH = 6;

  /**
   * How long a request's reservation lives without renewal when a {@link LiveReservations} keeps it (see
   * {@link #keep}): a process that dies gives its requests' bytes back within this.
   */
  public static final long REQUEST_LEASE_MILLIS = 30_000;
  /** How often {@link #keep} runs: well inside the second a restored namespace makes new grants wait. */
  public static final long KEEP_MILLIS = 250;
  /** How often new grants on a namespace restored a moment ago ask again, and for how long at most. */
  private static final long RECOVERING_RETRY_MILLIS = 100;
  private static final int RECOVERING_RETRIES = 15;

  private final Redis redis;
  private final Vertx vertx;
  private final LuaScripts scripts;
  private final SeenSequences seen = new SeenSequences();
  private final long reservationTtlMillis;
  private final LiveReservations live;
  private final boolean ownsClient;
  private final CallTimer timers;
  private volatile NamespaceRecovery recovery = this::markNew;
  /**
   * When this store last added each namespace to {@link QuotaKeys#NAMESPACES}: it adds it again after
   * {@link #RELIST_MILLIS}, so a list lost on its own (deleted by hand) is whole again within that.
   */
  private final Map<String, Long> listedAt = new ConcurrentHashMap<>();
  static final long RELIST_MILLIS = 10_000;
  /** Failed reserves and the releases fired after them, until both are answered (see {@link #reserving}). */
  private final Set<Future<?>> inDoubt = ConcurrentHashMap.newKeySet();

  /** A store on a client someone else owns (and closes); its calls are timed nowhere. */
  public RedisQuotaStore(Redis redis, Duration reservationTtl) {
    this(null, redis, reservationTtl, false, CallTimer.UNTIMED, EmittedEvents.NONE, null);
  }

  private RedisQuotaStore(Vertx vertx, Redis redis, Duration reservationTtl, boolean ownsClient, CallTimer timers, EmittedEvents events,
                          LiveReservations live) {
    if (reservationTtl.isNegative() || reservationTtl.isZero()) {
      throw new IllegalArgumentException("reservation TTL must be positive: " + reservationTtl);
    }
    this.vertx = vertx;
    this.redis = redis;
    this.live = live;
    this.scripts = new LuaScripts(redis, events, seen);
    this.reservationTtlMillis = reservationTtl.toMillis();
    this.ownsClient = ownsClient;
    this.timers = timers;
  }

  /**
   * A store with its own pooled client. The client's defaults (6 connections, 24 waiting requests) fail
   * requests under a few dozen concurrent uploads, so the pool is sized here and waiting is generous.
   * Call {@link #loadScripts()} before serving; {@link #close()} closes the client.
   */
  private static final AtomicInteger CLIENTS = new AtomicInteger();

  public static RedisQuotaStore create(Vertx vertx, String redisUrl, int poolSize, Duration reservationTtl) {
    return create(vertx, redisUrl, poolSize, reservationTtl, EmittedEvents.NONE);
  }

  /** As {@link #create(Vertx, String, int, Duration)}, handing every event its scripts append to {@code events}. */
  public static RedisQuotaStore create(Vertx vertx, String redisUrl, int poolSize, Duration reservationTtl, EmittedEvents events) {
    return create(vertx, redisUrl, poolSize, reservationTtl, events, null);
  }

  /**
   * As {@link #create(Vertx, String, int, Duration, EmittedEvents)}, keeping its requests' reservations in
   * {@code live} (shared by the process's stores): they are then leases, which {@link #keep} renews.
   */
  public static RedisQuotaStore create(Vertx vertx, String redisUrl, int poolSize, Duration reservationTtl, EmittedEvents events,
                                       LiveReservations live) {
    return create(vertx, redisUrl, poolSize, reservationTtl, events, live, CallTimer.UNTIMED);
  }

  /** As {@link #create(Vertx, String, int, Duration, EmittedEvents, LiveReservations)}, timing every call with {@code timer}. */
  public static RedisQuotaStore create(Vertx vertx, String redisUrl, int poolSize, Duration reservationTtl, EmittedEvents events,
                                       LiveReservations live, CallTimer timer) {
    RedisOptions options = new RedisOptions()
        .setConnectionString(redisUrl)
        .setMaxPoolSize(poolSize)
        .setMaxPoolWaiting(MAX_POOL_WAITING)
        .setMaxWaitingHandlers(MAX_WAITING_HANDLERS)
        // Named for the pool metrics, which would otherwise carry a random id per client.
        .setPoolName("quota-store-" + CLIENTS.incrementAndGet());
    return new RedisQuotaStore(vertx, Redis.createClient(vertx, options), reservationTtl, true, timer, events, live);
  }

  /** Sends every script to Redis once: fails if Redis is unreachable or rejects a script. */
  public Future<Void> loadScripts() {
    return scripts.load();
  }

  /** Closes the client if this store created it. */
  public Future<Void> close() {
    return ownsClient ? redis.close() : Future.succeededFuture();
  }

  @Override
  public Future<Reservation> reserveBytes(String repository, String requestId, String sessionId, long minBytes, long maxBytes) {
    return reserving("reserve_bytes", repository, requestId, () -> {
      check(minBytes >= 0 && maxBytes >= minBytes && maxBytes < MAX_EXACT, "need 0 <= minBytes <= maxBytes < 2^53, got " + minBytes + ".." + maxBytes);
      checkId(requestId);
      Path path = new Path(repository);
      List<String> args = List.of(requestId, orNone(sessionId), repository, Long.toString(minBytes), Long.toString(maxBytes),
          Long.toString(ttlOf(requestId)));
      return write(path, () -> path.run(LuaScripts.RESERVE_BYTES, path.presentKeys(), List.of(path.keys.recovering()), args))
          .map(path::reservation).onSuccess(granted -> kept(requestId, repository, granted));
    });
  }

  @Override
  public Future<Reservation> reserveBlobs(String repository, String requestId, List<Blob> blobs) {
    return reserving("reserve_blobs", repository, requestId, () -> {
      checkId(requestId);
      Path path = new Path(repository);
      List<String> args = new ArrayList<>(List.of(requestId, repository, Long.toString(ttlOf(requestId))));
      addBlobs(args, blobs);
      return write(path, () -> path.run(LuaScripts.RESERVE_BLOBS, path.presentKeys(), List.of(path.keys.recovering()), args))
          .map(path::reservation).onSuccess(granted -> kept(requestId, repository, granted));
    });
  }

  /** A partial release also shrinks the reservation's total: bytes given back were never uploaded. */
  @Override
  public Future<Void> release(String repository, String reservationId, long bytes) {
    return guarded("release", () -> {
      check(bytes >= -1 && bytes < MAX_EXACT, "bytes must be -1 or 0 to 2^53: " + bytes);
      checkId(reservationId);
      // No scopes: the reservation's own amounts say which scopes it holds bytes in.
      Path namespaceOnly = new Path(repository, List.of());
      return namespaceOnly.run(LuaScripts.RELEASE, List.of(), List.of(),
          List.of(reservationId, Long.toString(bytes), Long.toString(ttlOf(reservationId))))
          // Failed or not, a whole release ends the renewal: what it may still hold then expires with its lease.
          .onComplete(v -> {
            if (live != null) {
              live.released(reservationId, v.succeeded() || bytes < 0 ? bytes : 0);
            }
          })
          .mapEmpty();
    });
  }

  @Override
  public Future<Void> settle(String repository, String requestId, String sessionId, long storedBytes, boolean sessionDirty) {
    return guarded("settle", () -> {
      check(storedBytes >= 0 && storedBytes < MAX_EXACT, "stored bytes must be 0 to 2^53: " + storedBytes);
      checkId(requestId);
      checkId(sessionId);
      check(!requestId.equals(sessionId), "a request settles into another id, its session: " + requestId);
      Path namespaceOnly = new Path(repository, List.of());
      return namespaceOnly.run(LuaScripts.SETTLE, List.of(), List.of(), List.of(requestId, sessionId, repository,
          Long.toString(storedBytes), sessionDirty ? "1" : "0", Long.toString(reservationTtlMillis)))
          .onComplete(v -> ended(requestId)).mapEmpty();
    });
  }

  @Override
  public Future<Reservation> openSession(String repository, String sessionId) {
    return reserving("open_session", repository, sessionId, () -> {
      checkId(sessionId);
      Path path = new Path(repository);
      List<String> args = List.of(sessionId, repository, Long.toString(reservationTtlMillis));
      return write(path, () -> path.run(LuaScripts.OPEN_SESSION, path.presentKeys(), List.of(), args)).map(path::reservation);
    });
  }

  @Override
  public Future<Session> session(String repository, String sessionId) {
    return guarded("session", () -> {
      checkId(sessionId);
      Path namespaceOnly = new Path(repository, List.of());
      return namespaceOnly.run(LuaScripts.SESSION, List.of(), List.of(), List.of(sessionId)).map(reply -> reply.get(0).toLong() == 1
          ? new Session(true, reply.get(1).toLong(), reply.get(2).toLong() == 1)
          : Session.UNKNOWN);
    });
  }

  @Override
  public Future<Commit> commitBlob(String repository, String requestId, String sessionId, Blob blob, String user) {
    return guarded("commit_blob", () -> {
      // The size comes from bytes the proxy counted or from the registry; a known size wins over it anyway.
      check(blob.size() >= 0 && blob.size() < MAX_EXACT, "a blob's size must be 0 to 2^53: " + blob);
      Path path = new Path(repository, user);
      List<String> args = List.of(orNone(requestId), orNone(sessionId), blob.digest(), Long.toString(blob.size()),
          Long.toString(reservationTtlMillis));
      return write(path, () -> path.run(LuaScripts.COMMIT_BLOB, path.presentKeys(), List.of(), args)).map(path::commit)
          .onComplete(v -> ended(requestId));
    });
  }

  @Override
  public Future<Commit> commitManifest(String repository, String requestId, Blob manifest, List<Blob> references, String user) {
    return guarded("commit_manifest", () -> {
      // A manifest's size is its body's, always known: it was read whole to decide on it.
      check(manifest.size() >= 0 && manifest.size() < MAX_EXACT, "a manifest's size must be 0 to 2^53: " + manifest);
      Path path = new Path(repository, user);
      List<String> args = new ArrayList<>(List.of(orNone(requestId), manifest.digest(), Long.toString(manifest.size()),
          Long.toString(reservationTtlMillis)));
      addBlobs(args, references);
      return write(path, () -> path.run(LuaScripts.COMMIT_MANIFEST, path.presentKeys(), path.manifestKeys(manifest.digest()), args))
          .map(path::commit).onComplete(v -> ended(requestId));
    });
  }

  @Override
  public Future<Change> dropBlob(String repository, String digest, String user, String requestId) {
    return guarded("drop_blob", () -> {
      Path path = new Path(repository, user);
      // The repository's manifests decide whether the registry's garbage collection keeps the blob.
      List<String> manifestKeys = List.of(path.keys.manifests(repository), path.keys.referenceCounts(repository));
      return write(path, () -> path.run(LuaScripts.DROP_BLOB, path.presentKeys(), manifestKeys, List.of(digest, orNone(requestId))))
          .map(path::change);
    });
  }

  @Override
  public Future<Change> dropManifest(String repository, String manifestDigest, String user, String requestId) {
    return guarded("drop_manifest", () -> {
      Path path = new Path(repository, user);
      return write(path, () -> path.run(LuaScripts.DROP_MANIFEST, path.presentKeys(), path.manifestKeys(manifestDigest),
          List.of(manifestDigest, orNone(requestId)))).map(path::change);
    });
  }

  @Override
  public Future<Void> recordRejection(String repository, String user, Rejection rejection) {
    return guarded("record_rejection", () -> {
      Path path = new Path(repository, user);
      List<String> args = List.of(rejection.scope(), rejection.resource(), Long.toString(rejection.requested()),
          Long.toString(rejection.usage()), Long.toString(rejection.limit()), rejection.reason());
      return write(path, () -> path.run(LuaScripts.RECORD_REJECTION, List.of(), List.of(), args)).mapEmpty();
    });
  }

  @Override
  public Future<Boolean> namespaceKnown(String namespace) {
    return guarded("namespace_known", () -> redis.send(Request.cmd(Command.EXISTS).arg(QuotaKeys.of(namespace).epoch()))
        .map(reply -> reply != null && reply.toLong() == 1));
  }

  @Override
  public Future<Long> sizeOf(String namespace, String digest) {
    return guarded("size_of", () -> redis.send(Request.cmd(Command.HGET).arg(QuotaKeys.of(namespace).sizes()).arg(digest))
        .map(size -> size == null ? -1L : size.toLong()));
  }

  @Override
  public Future<Map<String, Long>> sizesOf(String namespace, List<String> digests) {
    return guarded("sizes_of", () -> {
      List<String> distinct = List.copyOf(new LinkedHashSet<>(digests));
      if (distinct.isEmpty()) {
        return Future.succeededFuture(Map.of());
      }
      Request hmget = Request.cmd(Command.HMGET).arg(QuotaKeys.of(namespace).sizes());
      distinct.forEach(hmget::arg);
      return redis.send(hmget).map(reply -> {
        Map<String, Long> sizes = new LinkedHashMap<>();
        for (int i = 0; i < distinct.size(); i++) {
          Response size = reply.get(i);
          sizes.put(distinct.get(i), size == null ? -1L : size.toLong());
        }
        return sizes;
      });
    });
  }

  @Override
  public Future<EgressGrant> reserveEgress(String repository, long bytes) {
    return guarded("reserve_egress", () -> {
      check(bytes >= 0 && bytes < MAX_EXACT, "egress bytes must be 0 to 2^53: " + bytes);
      Path path = new Path(repository);
      return path.run(LuaScripts.RESERVE_EGRESS, path.egressKeys(), List.of(), List.of(Long.toString(bytes)))
          .map(reply -> path.egressGrant(reply, bytes));
    });
  }

  @Override
  public Future<Void> settleEgress(String repository, EgressGrant grant, long sentBytes) {
    return guarded("settle_egress", () -> {
      check(sentBytes >= 0 && sentBytes < MAX_EXACT, "sent bytes must be 0 to 2^53: " + sentBytes);
      if (!grant.allowed()) {
        return Future.succeededFuture();
      }
      Path path = new Path(repository);
      check(grant.windows().size() == path.scopes.size(), "a grant of " + repository + " has one window per scope: " + grant);
      List<String> args = new ArrayList<>(List.of(Long.toString(grant.reservedBytes()), Long.toString(sentBytes)));
      args.addAll(grant.windows());
      return path.run(LuaScripts.SETTLE_EGRESS, path.egressKeys(), List.of(), args).mapEmpty();
    });
  }

  /**
   * The hour bucket is named from this process's clock, because key names must be known before the
   * call (Cluster routing; no names are built in Lua). Proxies' clocks agree to far better than an
   * hour, so skew only moves a request between neighbouring hours at the boundary. Egress windows,
   * which refuse pulls, are kept by {@link #reserveEgress} and {@link #settleEgress} on the Redis clock.
   */
  @Override
  public Future<Void> meter(String repository, String user, Traffic traffic) {
    return guarded("meter", () -> {
      check(traffic.ingressBytes() >= 0 && traffic.ingressBytes() < MAX_EXACT && traffic.egressBytes() >= 0
          && traffic.egressBytes() < MAX_EXACT && traffic.pushes() >= 0 && traffic.pulls() >= 0, "traffic counts must be 0 to 2^53: " + traffic);
      Path path = new Path(repository, user);
      long hour = System.currentTimeMillis() / HOUR_MILLIS;
      List<String> args = List.of(Long.toString(traffic.ingressBytes()), Long.toString(traffic.egressBytes()),
          Integer.toString(traffic.pushes()), Integer.toString(traffic.pulls()), Long.toString(TRAFFIC_RETENTION_SECONDS),
          Long.toString(hour * (HOUR_MILLIS / 1000)));
      return write(path, () -> path.run(LuaScripts.METER, path.presentKeys(), List.of(path.keys.traffic(hour)), args)).mapEmpty();
    });
  }

  /** Stores all four values (-1 included), so the hash shows what was set rather than relying on defaults. */
  @Override
  public Future<Void> putLimits(String scope, ScopeLimits limits) {
    return guarded("put_limits", () -> {
      check(isLimit(limits.storageHard()) && isLimit(limits.storageSoft()) && isLimit(limits.egress()) && limits.egressWindowSeconds() >= 1,
          "limits must be -1 or 0 to 2^53, the egress window at least a second: " + limits);
      Path path = new Path(scope, List.of(scope));
      Request hset = Request.cmd(Command.HSET).arg(path.keys.limits())
          .arg(scope + "|hard").arg(limits.storageHard())
          .arg(scope + "|soft").arg(limits.storageSoft())
          .arg(scope + "|egress").arg(limits.egress())
          .arg(scope + "|egress_window").arg(limits.egressWindowSeconds());
      return write(path, () -> redis.send(hset)).mapEmpty();
    });
  }

  /**
   * Sets a scope's limits at a revision of the ledger's row (its update time in microseconds); when the
   * store holds a newer revision nothing changes. True when written.
   */
  public Future<Boolean> putLimits(String scope, ScopeLimits limits, long revision) {
    return guarded("put_limits", () -> {
      checkLimits(limits);
      Path path = new Path(scope, List.of(scope));
      List<String> args = List.of(Long.toString(limits.storageHard()), Long.toString(limits.storageSoft()), Long.toString(limits.egress()),
          Long.toString(limits.egressWindowSeconds()), Long.toString(revision));
      return write(path, () -> path.run(LuaScripts.PUT_LIMITS, path.presentKeys(), List.of(), args)).map(reply -> reply.toLong() == 1);
    });
  }

  /** Stores the system settings at a revision, as {@link #putLimits(String, ScopeLimits, long)} does limits. */
  public Future<Boolean> putSystemSettings(SystemSettings settings, long revision) {
    if (!isLimit(settings.hardStorage()) || !(settings.writeRatio() >= 0 && settings.writeRatio() <= 1)) {
      return Future.failedFuture(new IllegalArgumentException("hard storage must be -1 or 0 to 2^53 and the write ratio 0 to 1: " + settings));
    }
    return guarded("put_system", () -> scripts.run(LuaScripts.PUT_SYSTEM, List.of(QuotaKeys.SYSTEM), prefixed(List.of(
            Long.toString(settings.hardStorage()), Double.toString(settings.writeRatio()), settings.readOnlyForced() ? "1" : "0",
            Long.toString(revision))))
        .map(reply -> reply.toLong() == 1));
  }

  /**
   * A scope's usage for reading (the usage API): its state, whether its namespace's state is known
   * (when not, the numbers are not to be trusted), and its egress in the current window.
   */
  public record ScopeUsage(boolean known, ScopeState state, long egressUsed) {}

  public Future<ScopeUsage> scopeUsage(String scope) {
    return guarded("scope_usage", () -> {
      Path path = new Path(scope, List.of(scope));
      return path.run(LuaScripts.SCOPE_USAGE, path.egressKeys(), List.of(), List.of())
          .map(reply -> new ScopeUsage(reply.get(0).toLong() == 1, path.states(reply, 1).get(0), reply.get(1 + STATE_WIDTH).toLong()));
    });
  }

  /**
   * Every scope the store holds usage, reservations or limits for, read namespace by namespace in
   * pipelined batches. Expired reservations not yet purged still count as reserved.
   */
  public Future<List<ScopeState>> allScopes() {
    return guarded("all_scopes", () -> listedNamespaces().compose(listed -> {
      List<String> namespaces = listed.names();
      List<Future<List<ScopeState>>> batches = new ArrayList<>();
      for (int from = 0; from < namespaces.size(); from += NAMESPACES_PER_BATCH) {
        batches.add(scopesOf(namespaces.subList(from, Math.min(namespaces.size(), from + NAMESPACES_PER_BATCH))));
      }
      return Future.all(batches).map(all -> {
        List<ScopeState> scopes = new ArrayList<>();
        for (int i = 0; i < all.size(); i++) {
          scopes.addAll(all.resultAt(i));
        }
        return scopes;
      });
    }));
  }

  private Future<List<ScopeState>> scopesOf(List<String> namespaces) {
    List<Request> requests = new ArrayList<>(namespaces.size() * 3);
    for (String namespace : namespaces) {
      QuotaKeys keys = QuotaKeys.of(namespace);
      requests.add(Request.cmd(Command.HGETALL).arg(keys.used()));
      requests.add(Request.cmd(Command.HGETALL).arg(keys.reserved()));
      requests.add(Request.cmd(Command.HGETALL).arg(keys.limits()));
    }
    return redis.batch(requests).map(replies -> {
      List<ScopeState> scopes = new ArrayList<>();
      for (int i = 0; i < replies.size(); i += 3) {
        Map<String, String> used = hash(replies.get(i));
        Map<String, String> reserved = hash(replies.get(i + 1));
        Map<String, String> limits = hash(replies.get(i + 2));
        java.util.TreeSet<String> names = new java.util.TreeSet<>(used.keySet());
        names.addAll(reserved.keySet());
        limits.keySet().forEach(field -> names.add(field.substring(0, field.lastIndexOf('|'))));
        for (String scope : names) {
          scopes.add(new ScopeState(scope, parse(used.get(scope), 0), parse(reserved.get(scope), 0), new ScopeLimits(
              parse(limits.get(scope + "|hard"), -1), parse(limits.get(scope + "|soft"), -1), parse(limits.get(scope + "|egress"), -1),
              parse(limits.get(scope + "|egress_window"), ScopeLimits.UNLIMITED.egressWindowSeconds()))));
        }
      }
      return scopes;
    });
  }

  private static Map<String, String> hash(Response reply) {
    Map<String, String> values = new LinkedHashMap<>();
    if (reply == null) {
      return values;
    }
    if (reply.isMap()) {
      reply.getKeys().forEach(key -> values.put(key, reply.get(key).toString()));
    } else {
      for (int i = 0; i + 1 < reply.size(); i += 2) {
        values.put(reply.get(i).toString(), reply.get(i + 1).toString());
      }
    }
    return values;
  }

  private static long parse(String value, long fallback) {
    try {
      return value == null ? fallback : Long.parseLong(value);
    } catch (NumberFormatException e) {
      return fallback;
    }
  }

  private static void checkLimits(ScopeLimits limits) {
    check(isLimit(limits.storageHard()) && isLimit(limits.storageSoft()) && isLimit(limits.egress()) && limits.egressWindowSeconds() >= 1,
        "limits must be -1 or 0 to 2^53, the egress window at least a second: " + limits);
  }

  @Override
  public Future<ScopeState> scope(String scope) {
    return guarded("scope", () -> {
      Path path = new Path(scope, List.of(scope));
      return path.run(LuaScripts.SCOPE, path.presentKeys(), List.of(), List.of()).map(reply -> path.states(reply, 0).get(0));
    });
  }

  /**
   * Reads the top-level scope's used and reserved bytes of every namespace ever written, pipelined in
   * batches. Reservations that expired since their namespace was last touched are still counted here;
   * the next call on that namespace purges them.
   *
   * <p>The sum is only made over a complete list whose namespaces' states are all known: a list without
   * its census (Redis lost it) is made complete first, and namespaces found unknown are restored first.
   * If that cannot be done now, the call fails with {@link SystemUsageUnknownException}: a sum over what
   * is left after a loss would read low, and a read-only registry would take pushes again.
   *
   * <p>A batch mixes hash slots, which a standalone Redis accepts; on a Redis Cluster client the
   * requests would have to be grouped by node first.
   */
  @Override
  public Future<SystemUsage> systemUsage() {
    return guarded("system_usage", () -> sumNamespaces(true, true));
  }

  /** Once each, if needed: the census may be taken, and then the namespaces found unknown restored. */
  private Future<SystemUsage> sumNamespaces(boolean mayTakeCensus, boolean mayRestore) {
    return listedNamespaces().compose(listed -> {
      if (!listed.complete()) {
        return mayTakeCensus ? takeCensus().recover(RedisQuotaStore::stillUnknown).compose(v -> sumNamespaces(false, mayRestore))
            : Future.failedFuture(new SystemUsageUnknownException("the list of namespaces is being rebuilt"));
      }
      List<Future<NamespaceSums>> batches = new ArrayList<>();
      List<String> namespaces = listed.names();
      for (int from = 0; from < namespaces.size(); from += NAMESPACES_PER_BATCH) {
        batches.add(usageOf(namespaces.subList(from, Math.min(namespaces.size(), from + NAMESPACES_PER_BATCH))));
      }
      return Future.all(batches).compose(all -> {
        NamespaceSums total = NamespaceSums.NONE;
        for (int i = 0; i < all.size(); i++) {
          total = total.plus(all.resultAt(i));
        }
        if (total.unknown().isEmpty()) {
          return Future.succeededFuture(new SystemUsage(total.used(), total.reserved()));
        }
        if (!mayRestore) {
          return Future.failedFuture(new SystemUsageUnknownException("namespaces " + total.unknown() + " are being restored"));
        }
        List<Future<Void>> restores = new ArrayList<>();
        total.unknown().forEach(namespace -> restores.add(recovery.ensureKnown(namespace)));
        return Future.all(restores).recover(RedisQuotaStore::stillUnknown).compose(v -> sumNamespaces(false, false));
      });
    });
  }

  /** A rebuild that failed (the ledger unreachable, say): system usage stays unknown, whatever the cause. */
  private static <T> Future<T> stillUnknown(Throwable cause) {
    return Future.failedFuture(new SystemUsageUnknownException("its rebuild failed: " + cause));
  }

  private Future<QuotaKeys.Namespaces> listedNamespaces() {
    return QuotaKeys.Namespaces.read(redis);
  }

  /**
   * Makes {@link QuotaKeys#NAMESPACES} complete: adds every namespace the recovery knows outside Redis
   * and every namespace Redis holds a state marker for (a scan, done only after a loss), then the census.
   */
  private Future<Void> takeCensus() {
    LOG.warn("the list of namespaces in Redis is not complete (was its data lost?): listing every namespace again");
    return recovery.namespacesOutsideRedis().compose(known -> {
      Set<String> all = new java.util.TreeSet<>(known);
      return scanMarkers("0", all).compose(v -> {
        Request add = Request.cmd(Command.SADD).arg(QuotaKeys.NAMESPACES);
        all.forEach(add::arg);
        add.arg(QuotaKeys.CENSUS_PREFIX + java.util.UUID.randomUUID());
        return redis.send(add).<Void>mapEmpty();
      });
    });
  }

  private Future<Void> scanMarkers(String cursor, Set<String> found) {
    return redis.send(Request.cmd(Command.SCAN).arg(cursor).arg("MATCH").arg(QuotaKeys.of("*").epoch()).arg("COUNT").arg(1000))
        .compose(reply -> {
          reply.get(1).forEach(key -> {
            String namespace = QuotaKeys.namespaceOfKey(key.toString());
            if (namespace != null) {
              found.add(namespace);
            }
          });
          String next = reply.get(0).toString();
          return next.equals("0") ? Future.succeededFuture() : scanMarkers(next, found);
        });
  }

  /** Used and reserved bytes of some namespaces' top-level scopes, and which of them have no known state. */
  private record NamespaceSums(long used, long reserved, List<String> unknown) {
    static final NamespaceSums NONE = new NamespaceSums(0, 0, List.of());

    NamespaceSums plus(NamespaceSums other) {
      List<String> both = new ArrayList<>(unknown);
      both.addAll(other.unknown);
      return new NamespaceSums(used + other.used, reserved + other.reserved, both);
    }
  }

  private Future<NamespaceSums> usageOf(List<String> namespaces) {
    List<Request> requests = new ArrayList<>(namespaces.size() * 3);
    for (String namespace : namespaces) {
      QuotaKeys keys = QuotaKeys.of(namespace);
      requests.add(Request.cmd(Command.HGET).arg(keys.used()).arg(namespace));
      requests.add(Request.cmd(Command.HGET).arg(keys.reserved()).arg(namespace));
      requests.add(Request.cmd(Command.EXISTS).arg(keys.epoch()));
    }
    return redis.batch(requests).map(replies -> {
      long used = 0;
      long reserved = 0;
      List<String> unknown = new ArrayList<>();
      for (int i = 0; i < replies.size(); i += 3) {
        used += orZero(replies.get(i));
        reserved += orZero(replies.get(i + 1));
        if (orZero(replies.get(i + 2)) == 0) {
          unknown.add(namespaces.get(i / 3));
        }
      }
      return new NamespaceSums(used, reserved, unknown);
    });
  }

  @Override
  public Future<Void> putSystemSettings(SystemSettings settings) {
    if (!isLimit(settings.hardStorage()) || !(settings.writeRatio() >= 0 && settings.writeRatio() <= 1)) {
      return Future.failedFuture(new IllegalArgumentException("hard storage must be -1 or 0 to 2^53 and the write ratio 0 to 1: " + settings));
    }
    return guarded("put_system_settings", () -> redis.send(Request.cmd(Command.HSET).arg(QuotaKeys.SYSTEM)
            .arg("hard_storage").arg(settings.hardStorage())
            .arg("write_ratio").arg(Double.toString(settings.writeRatio()))
            .arg("read_only_forced").arg(settings.readOnlyForced() ? 1 : 0))
        .mapEmpty());
  }

  @Override
  public Future<Optional<SystemSettings>> systemSettings() {
    return guarded("system_settings", () -> redis.send(Request.cmd(Command.HMGET).arg(QuotaKeys.SYSTEM).arg("hard_storage").arg("write_ratio").arg("read_only_forced")))
        .map(reply -> {
          Response hard = reply.get(0);
          Response ratio = reply.get(1);
          Response forced = reply.get(2);
          if (hard == null && ratio == null && forced == null) {
            return Optional.empty();
          }
          SystemSettings defaults = SystemSettings.DEFAULTS;
          return Optional.of(new SystemSettings(
              hard == null ? defaults.hardStorage() : hard.toLong(),
              ratio == null ? defaults.writeRatio() : Double.parseDouble(ratio.toString()),
              forced == null ? defaults.readOnlyForced() : forced.toLong() == 1));
        });
  }

  /**
   * Runs a write after making sure the namespace is listed in {@link QuotaKeys#NAMESPACES}, which
   * {@link #systemUsage()} and the ledger feed read. The list lives outside the namespace's hash slot, so
   * it cannot be updated by the script itself; listing first means usage is never written to an unlisted
   * namespace. The recovery lists a namespace again whenever Redis lost its state.
   */
  private <T> Future<T> write(Path path, Supplier<Future<T>> operation) {
    String namespace = path.namespace;
    long now = System.currentTimeMillis();
    Long listed = listedAt.get(namespace);
    if (listed != null && now - listed < RELIST_MILLIS) {
      return whenKnown(namespace, operation);
    }
    return redis.send(Request.cmd(Command.SADD).arg(QuotaKeys.NAMESPACES).arg(namespace)).compose(added -> {
      listedAt.put(namespace, now);
      return whenKnown(namespace, operation);
    });
  }

  /**
   * Runs the operation; if its script found the namespace's state unknown, recovers it and runs it once
   * more; while the namespace is recovering (restored a moment ago), asks again every 100 ms.
   */
  private <T> Future<T> whenKnown(String namespace, Supplier<Future<T>> operation) {
    return afterRecovering(namespace, operation, RECOVERING_RETRIES).recover(failure -> failure instanceof NamespaceStateUnknownException
        ? recovery.ensureKnown(namespace)
            .onSuccess(known -> seen.forget(namespace))
            .compose(known -> afterRecovering(namespace, operation, RECOVERING_RETRIES))
        : Future.failedFuture(failure));
  }

  private <T> Future<T> afterRecovering(String namespace, Supplier<Future<T>> operation, int retries) {
    return operation.get().recover(failure -> {
      if (!(failure instanceof NamespaceRecoveringException) || retries == 0 || vertx == null) {
        return Future.failedFuture(failure);
      }
      Promise<T> later = Promise.promise();
      vertx.setTimer(RECOVERING_RETRY_MILLIS, id -> afterRecovering(namespace, operation, retries - 1).onComplete(later));
      return later.future();
    });
  }

  /**
   * Renews the leases of this process's requests' reservations and re-creates those Redis lost: one script
   * call per namespace with requests in flight. Run every {@link #KEEP_MILLIS} by the process; the number
   * re-created.
   */
  public Future<Integer> keep() {
    if (live == null || live.size() == 0) {
      return Future.succeededFuture(0);
    }
    List<Future<Integer>> calls = new ArrayList<>();
    live.byNamespace().forEach((namespace, reservations) -> calls.add(guarded("keep", () -> {
      List<String> args = new ArrayList<>(List.of(Long.toString(Math.min(REQUEST_LEASE_MILLIS, reservationTtlMillis))));
      for (Map.Entry<String, LiveReservations.Live> reservation : reservations) {
        List<String> scopes = Scopes.of(reservation.getValue().repository());
        args.add(reservation.getKey());
        args.add(reservation.getValue().repository());
        args.add(Long.toString(reservation.getValue().bytes()));
        args.add(Integer.toString(scopes.size()));
        args.addAll(scopes);
      }
      Path namespaceOnly = new Path(namespace, List.of());
      return scripts.run(LuaScripts.KEEP, namespaceOnly.keys.common(), prefixed(args)).map(Response::toInteger);
    })));
    return Future.all(calls).map(all -> {
      int recreated = 0;
      for (int i = 0; i < all.size(); i++) {
        recreated += all.<Integer>resultAt(i);
      }
      if (recreated > 0) {
        LOG.warn("{} reservations of requests in flight were missing from Redis (was its data lost?) and were re-created", recreated);
      }
      return recreated;
    });
  }

  /** The common layout's arguments with no scopes, no user and no floor (the script decides nothing), then {@code args}. */
  private static List<String> prefixed(List<String> args) {
    List<String> all = new ArrayList<>(args.size() + 3);
    all.add("0");
    all.add("");
    all.add("0");
    all.addAll(args);
    return all;
  }

  @Override
  public Future<Void> intendCommit(String repository, String requestId, String sessionId, String digest) {
    return intend(Intent.What.COMMIT, repository, requestId, sessionId, digest);
  }

  @Override
  public Future<Void> intendDelete(String repository, String requestId, String digest, boolean manifest) {
    return intend(manifest ? Intent.What.DROP_MANIFEST : Intent.What.DROP_BLOB, repository, requestId, null, digest);
  }

  @Override
  public Future<Void> intendManifest(String repository, String requestId, Blob manifest, List<Blob> references) {
    StringBuilder refs = new StringBuilder();
    for (Blob reference : references) {
      refs.append(refs.length() == 0 ? "" : ",").append(reference.digest()).append(':').append(reference.size());
    }
    return intend(Intent.What.COMMIT_MANIFEST, repository, requestId, null, manifest.digest(), Long.toString(manifest.size()), refs.toString());
  }

  private Future<Void> intend(Intent.What what, String repository, String requestId, String sessionId, String digest) {
    return intend(what, repository, requestId, sessionId, digest, "", "");
  }

  private Future<Void> intend(Intent.What what, String repository, String requestId, String sessionId, String digest, String size,
                              String refs) {
    return guarded("intend", () -> {
      checkId(requestId);
      check(digest != null && !digest.isEmpty(), "an intent needs a digest");
      Path namespaceOnly = new Path(repository, List.of());
      if (live != null) {
        live.intended(requestId, repository);
      }
      return namespaceOnly.run(LuaScripts.INTEND, List.of(), List.of(), List.of(requestId, what.name().toLowerCase(java.util.Locale.ROOT),
          repository, digest, orNone(sessionId), Long.toString(Math.min(REQUEST_LEASE_MILLIS, reservationTtlMillis)), size, refs))
          .mapEmpty();
    });
  }

  /** What a request was about to make the registry do when its intent was recorded (see intend.lua). */
  public record Intent(String requestId, What what, String repository, String digest, String sessionId, long size, List<Blob> references) {
    public enum What { COMMIT, COMMIT_MANIFEST, DROP_BLOB, DROP_MANIFEST }
  }

  /** The intents of a namespace whose lease ran out: their proxy died, or their accounting failed (see {@code RegistryIntents}). */
  public Future<List<Intent>> lapsedIntents(String namespace) {
    return guarded("lapsed_intents", () -> new Path(namespace, List.of()).run(LuaScripts.LAPSED_INTENTS, List.of(), List.of(), List.of())
        .map(reply -> {
          List<Intent> lapsed = new ArrayList<>();
          for (int i = 0; reply != null && i + 6 < reply.size(); i += 7) {
            String session = reply.get(i + 4).toString();
            String size = reply.get(i + 5).toString();
            List<Blob> references = new ArrayList<>();
            for (String reference : reply.get(i + 6).toString().split(",")) {
              int colon = reference.lastIndexOf(':');
              if (colon > 0) {
                references.add(new Blob(reference.substring(0, colon), Long.parseLong(reference.substring(colon + 1))));
              }
            }
            lapsed.add(new Intent(reply.get(i).toString(), Intent.What.valueOf(reply.get(i + 1).toString().toUpperCase(java.util.Locale.ROOT)),
                reply.get(i + 2).toString(), reply.get(i + 3).toString(), session.isEmpty() ? null : session,
                size.isEmpty() ? -1 : Long.parseLong(size), List.copyOf(references)));
          }
          return lapsed;
        }));
  }

  /** A request's reservation is a lease when it is kept alive by {@link #keep}; everything else lives its TTL. */
  private long ttlOf(String id) {
    return live != null && LiveReservations.kept(id) ? Math.min(REQUEST_LEASE_MILLIS, reservationTtlMillis) : reservationTtlMillis;
  }

  private void kept(String requestId, String repository, Reservation granted) {
    if (live != null && granted.granted() && granted.grantedBytes() > 0) {
      live.granted(requestId, repository, granted.grantedBytes());
    }
  }

  @Override
  public void requestEnded(String requestId) {
    ended(requestId);
  }

  private void ended(String requestId) {
    if (live != null) {
      live.ended(requestId);
    }
  }

  /**
   * How a namespace whose marker is missing is made known: by default it is marked as new (nothing
   * to restore); with a ledger, it is restored from it first when the ledger knows it.
   */
  public RedisQuotaStore withRecovery(NamespaceRecovery recovery) {
    this.recovery = recovery;
    return this;
  }

  /** Marks a namespace's state as known, with the ledger's epoch (or {@code new} without a ledger). */
  public Future<Void> markKnown(String namespace, String epoch) {
    return guarded("mark_known", () -> redis.send(Request.cmd(Command.SET).arg(QuotaKeys.of(namespace).epoch()).arg(epoch)).mapEmpty());
  }

  /** Forgets that a namespace's state is known: the next decision on it restores it first. */
  public Future<Void> forget(String namespace) {
    return guarded("forget", () -> redis.send(Request.cmd(Command.DEL).arg(QuotaKeys.of(namespace).epoch())).mapEmpty());
  }

  /** Without a ledger there is nothing to restore from: the namespace is listed and marked as new. */
  private Future<Void> markNew(String namespace) {
    return guarded("mark_known", () -> redis.send(Request.cmd(Command.SADD).arg(QuotaKeys.NAMESPACES).arg(namespace)))
        .compose(listed -> markKnown(namespace, "new"));
  }

  /** Appends digest, size pairs; blobs listed twice count once (the first of each digest is kept). */
  private static void addBlobs(List<String> args, List<Blob> blobs) {
    Map<String, Blob> byDigest = new LinkedHashMap<>();
    for (Blob blob : blobs) {
      byDigest.putIfAbsent(blob.digest(), blob);
    }
    for (Blob blob : byDigest.values()) {
      check(blob.size() >= 0 && blob.size() < MAX_EXACT, "a blob's size must be known and below 2^53: " + blob);
      args.add(blob.digest());
      args.add(Long.toString(blob.size()));
    }
  }

  private static void checkId(String id) {
    check(id != null && !id.isEmpty(), "a reservation id is required");
  }

  /** An optional id as the scripts take it: '' for none. */
  private static String orNone(String id) {
    return id == null ? "" : id;
  }

  /**
   * A {@link #guarded} reserve under {@code id}. One that fails after it was sent (a timeout, a connection
   * lost with the call on it) may still reserve in Redis, now or later: the id is then released whole,
   * which retires it, so what it reserved comes back and a copy still on its way grants nothing. Arguments
   * refused before anything was sent retire nothing.
   */
  private Future<Reservation> reserving(String name, String repository, String id, Supplier<Future<Reservation>> operation) {
    AtomicReference<Future<Reservation>> sent = new AtomicReference<>();
    return guarded(name, () -> {
      Future<Reservation> call = operation.get();
      sent.set(call);
      return call;
    }).recover(failure -> {
      Future<Reservation> call = sent.get();
      if (call != null) {
        Future<Void> release = release(repository, id, -1).onFailure(e -> LOG.warn(
            "{}: {} of {} failed ({}) and its release failed too ({}): what it may hold expires with its TTL",
            repository, name, id, failure.toString(), e.toString()));
        // Bounded: a Redis that never answers must not make this set grow without end.
        Future<?> both = Future.join(call, release).timeout(IN_DOUBT_MILLIS, TimeUnit.MILLISECONDS);
        inDoubt.add(both);
        both.onComplete(done -> inDoubt.remove(both));
      }
      return Future.failedFuture(failure);
    });
  }

  /**
   * Completes once every reserve that has failed so far, and the release that followed it, has been
   * answered by Redis (or failed): then nothing they sent is still on its way. For tests.
   */
  Future<Void> inDoubtSettled() {
    return Future.join(List.copyOf(inDoubt)).<Void>mapEmpty().otherwiseEmpty();
  }

  private static boolean isLimit(long value) {
    return value >= -1 && value < MAX_EXACT;
  }

  private static void check(boolean valid, String message) {
    if (!valid) {
      throw new IllegalArgumentException(message);
    }
  }

  private static long orZero(Response reply) {
    return reply == null ? 0 : reply.toLong();
  }

  /**
   * Runs an operation, turning an invalid (or missing) argument into a failed future like any other
   * failure, and times it: every call of the store passes here, so this is where Redis latency is measured.
   */
  private <T> Future<T> guarded(String name, Supplier<Future<T>> operation) {
    // A slow Redis must not gather a queue of waiting pushes: past the bound a call fails at once, as an
    // unreachable store does (503, or through when failing open), without sending anything.
    if (inFlight.incrementAndGet() > maxCallsInFlight) {
      inFlight.decrementAndGet();
      return Future.failedFuture(new StoreOverloadedException(maxCallsInFlight));
    }
    try {
      // A Redis that stops answering must not hold a push forever: past this the call counts as failed
      // (503, or through when failing open). A reservation that still lands later expires with its TTL.
      return timers.time(name, () -> operation.get().timeout(CALL_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS))
          .onComplete(done -> inFlight.decrementAndGet());
    } catch (IllegalArgumentException | NullPointerException e) {
      inFlight.decrementAndGet();
      return Future.failedFuture(e);
    }
  }

  /** Calls waiting for Redis now (for tests and the bound above). */
  int callsInFlight() {
    return inFlight.get();
  }

  /** Bounds the calls that may wait for Redis at once (the default is {@link #MAX_CALLS_IN_FLIGHT}). */
  RedisQuotaStore limitCallsInFlight(int max) {
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

  /** The scopes of one repository (or one scope) and its namespace's keys: lays out a call and reads its reply. */
  private final class Path {
    final String namespace;
    final List<String> scopes;
    final QuotaKeys keys;
    final String repository;
    /** Recorded in the events the call causes. */
    final String user;

    Path(String repository) {
      this(repository, Scopes.of(repository), "");
    }

    Path(String repository, String user) {
      this(repository, Scopes.of(repository), user);
    }

    Path(String repository, List<String> scopes) {
      this(repository, scopes, "");
    }

    Path(String repository, List<String> scopes, String user) {
      if (repository == null || repository.isEmpty()) {
        throw new IllegalArgumentException("empty repository or scope");
      }
      this.repository = repository;
      this.namespace = Scopes.namespace(repository);
      this.scopes = scopes;
      this.keys = QuotaKeys.of(repository);
      this.user = user == null ? "" : user;
    }

    List<String> presentKeys() {
      return keys.presentKeys(scopes);
    }

    List<String> egressKeys() {
      return keys.egressKeys(scopes);
    }

    /** The extra keys of the manifest scripts: manifests:R, refs:R:M, refcount:R. */
    List<String> manifestKeys(String manifestDigest) {
      return List.of(keys.manifests(repository), keys.references(repository, manifestDigest), keys.referenceCounts(repository));
    }

    /** The common layout of common.lua: namespace keys, one key per scope, then the operation's own keys and arguments. */
    Future<Response> run(LuaScripts.Script script, List<String> scopeKeys, List<String> extraKeys, List<String> extraArgs) {
      List<String> allKeys = new ArrayList<>(keys.common());
      allKeys.addAll(scopeKeys);
      allKeys.addAll(extraKeys);
      List<String> args = new ArrayList<>(3 + scopes.size() + extraArgs.size());
      args.add(Integer.toString(scopes.size()));
      args.add(user);
      args.add(Long.toString(seen.floor(namespace)));
      args.addAll(scopes);
      args.addAll(extraArgs);
      return scripts.run(script, allKeys, args).compose(reply -> {
        if (reply != null && reply.type() == ResponseType.NUMBER && reply.toLong() == UNKNOWN) {
          return Future.failedFuture(new NamespaceStateUnknownException(namespace));
        }
        if (reply != null && reply.type() == ResponseType.MULTI && reply.size() == 1 && reply.get(0).toLong() == RECOVERING) {
          return Future.failedFuture(new NamespaceRecoveringException(namespace));
        }
        return Future.succeededFuture(reply);
      });
    }

    /** The scope a script named by its 1-based position on the path. */
    String scope(Response position) {
      return scopes.get(position.toInteger() - 1);
    }

    /**
     * {1, granted}, {0, position, used, reserved, hard, requested, held by the request (and its session)},
     * {2} (retired) or {3, digest, known size, given size}.
     */
    Reservation reservation(Response reply) {
      long outcome = reply.get(0).toLong();
      if (outcome == 1) {
        return new Reservation(reply.get(1).toLong(), null);
      }
      if (outcome == 0) {
        return new Reservation(0, new Denial(scope(reply.get(1)), reply.get(2).toLong(), reply.get(3).toLong(),
            reply.get(4).toLong(), reply.get(5).toLong(), reply.get(6).toLong()));
      }
      if (outcome == 2) {
        return Reservation.RETIRED;
      }
      if (outcome == 3) {
        return new Reservation(0, null, new SizeConflict(reply.get(1).toString(), reply.get(2).toLong(), reply.get(3).toLong()), false);
      }
      throw new IllegalStateException("unexpected reservation reply " + reply);
    }

    Change change(Response reply) {
      return new Change(states(reply, 0));
    }

    /** {1, window per scope...} or {0, position, used, limit, window seconds, retry after seconds}. */
    EgressGrant egressGrant(Response reply, long bytes) {
      if (reply.get(0).toLong() == 1) {
        List<String> windows = new ArrayList<>(scopes.size());
        for (int i = 1; i < reply.size(); i++) {
          windows.add(reply.get(i).toString());
        }
        return new EgressGrant(true, bytes, List.copyOf(windows), null);
      }
      return EgressGrant.refused(new EgressCheck(false, scope(reply.get(1)), reply.get(2).toLong(), reply.get(3).toLong(),
          reply.get(4).toLong(), reply.get(5).toLong(), bytes));
    }

    /** {1, size charged, states...}. */
    Commit commit(Response reply) {
      return new Commit(reply.get(0).toLong() == 1, reply.get(1).toLong(), states(reply, 2));
    }

    /** Six numbers per scope from {@code from}: used, reserved, hard, soft, egress, egress window. */
    List<ScopeState> states(Response reply, int from) {
      List<ScopeState> states = new ArrayList<>(scopes.size());
      for (int i = 0; i < scopes.size(); i++) {
        int at = from + i * STATE_WIDTH;
        states.add(new ScopeState(scopes.get(i), reply.get(at).toLong(), reply.get(at + 1).toLong(),
            new ScopeLimits(reply.get(at + 2).toLong(), reply.get(at + 3).toLong(), reply.get(at + 4).toLong(), reply.get(at + 5).toLong())));
      }
      return states;
    }
  }
}
