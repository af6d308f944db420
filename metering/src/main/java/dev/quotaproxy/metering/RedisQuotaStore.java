package dev.quotaproxy.metering;

import dev.quotaproxy.oci.Scopes;
import static dev.quotaproxy.metering.StoreClient.MAX_EXACT;
import static dev.quotaproxy.metering.ScopePath.orNone;
import static dev.quotaproxy.metering.StoreClient.check;
import static dev.quotaproxy.metering.StoreClient.checkId;

import dev.quotaproxy.oci.Blob;
import io.vertx.core.Future;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * The {@link QuotaStore} over Redis, the one the request path decides with: each operation is one Lua
 * script (see {@link LuaScripts}) over the keys of one namespace (see {@link QuotaKeys}), so it is atomic
 * against every other proxy instance and runs on one shard of a Redis Cluster. Calls go through a
 * {@link StoreClient} (its guard, timeout and timing) and, where they change usage, a {@link NamespaceGate};
 * {@link ScopePath} lays out the arguments and reads the replies; the arithmetic is in the scripts.
 *
 * <p>Over 350 lines: one short method per {@link QuotaStore} operation, each a guarded call of its
 * script, with nothing else left to move out.
 */
public final class RedisQuotaStore implements QuotaStore {
  private static final long TRAFFIC_RETENTION_SECONDS = Duration.ofDays(8).toSeconds();
  private static final long HOUR_MILLIS = Duration.ofHours(1).toMillis();

  private final StoreClient client;
  private final NamespaceGate gate;
  private final long reservationTtlMillis;
  private final LiveReservations live;
  /** Reserves that failed after they were sent, each released whole. */
  private final InDoubtReserves inDoubt;
  /** Records requests' intents (intend.lua). */
  private final RequestLeases leases;
  /** When set ({@link #meteringLocally}): traffic added up here and written each flush, and pulls without egress limits decided here. */
  private TrafficBatches batches;
  private EgressLimits egressLimits;

  /** A store whose reservations all live their TTL. */
  public RedisQuotaStore(NamespaceGate gate, Duration reservationTtl) {
    this(gate, reservationTtl, null);
  }

  /**
   * A store on the gate's client, keeping its requests' reservations in {@code live} (shared by the
   * process's stores): they are then leases, which {@link RequestLeases#keep} renews.
   */
  public RedisQuotaStore(NamespaceGate gate, Duration reservationTtl, LiveReservations live) {
    if (reservationTtl.isNegative() || reservationTtl.isZero()) {
      throw new IllegalArgumentException("reservation TTL must be positive: " + reservationTtl);
    }
    this.client = gate.client;
    this.gate = gate;
    this.reservationTtlMillis = reservationTtl.toMillis();
    this.live = live;
    this.inDoubt = new InDoubtReserves(client, this::release);
    this.leases = new RequestLeases(client, live, reservationTtl);
  }

  /**
   * From now on this store adds traffic up in memory ({@link TrafficBatches}; {@link #flush} writes it),
   * and grants a pull into scopes that {@code egressLimits} says have no egress limit without asking Redis.
   * For the request path, on the event loop this store's calls run on.
   */
  public RedisQuotaStore meteringLocally(EgressLimits egressLimits) {
    this.egressLimits = egressLimits;
    this.batches = new TrafficBatches(this::meterAt);
    return this;
  }

  /** Writes the traffic added up since the last flush (nothing when not metering locally). */
  @Override
  public Future<Void> flush() {
    return batches == null ? Future.succeededFuture() : batches.flush();
  }

  @Override
  public Future<Reservation> reserveBytes(String repository, String requestId, String sessionId, long minBytes, long maxBytes) {
    return inDoubt.reserving("reserve_bytes", repository, requestId, () -> {
      check(minBytes >= 0 && maxBytes >= minBytes && maxBytes < MAX_EXACT,
          "need 0 <= minBytes <= maxBytes < 2^53, got " + minBytes + ".." + maxBytes);
      checkId(requestId);
      ScopePath path = new ScopePath(client, repository);
      List<String> args = List.of(requestId, orNone(sessionId), repository, Long.toString(minBytes), Long.toString(maxBytes),
          Long.toString(ttlOf(requestId)));
      // links:R says whether the repository is new: then the grant takes its slot (count limits, common.lua).
      List<String> extra = List.of(path.keys.recovering(), path.keys.links(repository));
      return gate.write(path.namespace, () -> path.run(LuaScripts.RESERVE_BYTES, path.presentKeys(), extra, args))
          .map(reply -> kept(requestId, repository, path.reservation(reply), ScopePath.heldSlots(reply)));
    });
  }

  @Override
  public Future<Reservation> reserveBlobs(String repository, String requestId, List<Blob> blobs) {
    return reserveBlobs(repository, requestId, "", blobs);
  }

  @Override
  public Future<Reservation> reserveManifest(String repository, String requestId, Blob manifest, List<Blob> references) {
    List<Blob> blobs = new ArrayList<>();
    blobs.add(manifest);
    blobs.addAll(references);
    return reserveBlobs(repository, requestId, manifest.digest(), blobs);
  }

  /** {@code manifest}: the digest of the manifest a PUT adds, which may need a manifest slot; '' for a mount. */
  private Future<Reservation> reserveBlobs(String repository, String requestId, String manifest, List<Blob> blobs) {
    return inDoubt.reserving("reserve_blobs", repository, requestId, () -> {
      checkId(requestId);
      ScopePath path = new ScopePath(client, repository);
      List<String> args = new ArrayList<>(List.of(requestId, repository, Long.toString(ttlOf(requestId)), manifest));
      ScopePath.addBlobs(args, blobs);
      List<String> extra = List.of(path.keys.recovering(), path.keys.links(repository), path.keys.manifests(repository));
      return gate.write(path.namespace, () -> path.run(LuaScripts.RESERVE_BLOBS, path.presentKeys(), extra, args))
          .map(reply -> kept(requestId, repository, path.reservation(reply), ScopePath.heldSlots(reply)));
    });
  }

  /** A partial release also shrinks the reservation's total: bytes given back were never uploaded. */
  @Override
  public Future<Void> release(String repository, String reservationId, long bytes) {
    return client.guarded("release", () -> {
      check(bytes >= -1 && bytes < MAX_EXACT, "bytes must be -1 or 0 to 2^53: " + bytes);
      checkId(reservationId);
      // No scopes: the reservation's own amounts say which scopes it holds bytes in.
      if (bytes < 0) {
        recorded(reservationId); // released whole: the registry did nothing the id intended
      }
      ScopePath namespaceOnly = new ScopePath(client, repository, List.of());
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
    return client.guarded("settle", () -> {
      check(storedBytes >= 0 && storedBytes < MAX_EXACT, "stored bytes must be 0 to 2^53: " + storedBytes);
      checkId(requestId);
      checkId(sessionId);
      check(!requestId.equals(sessionId), "a request settles into another id, its session: " + requestId);
      recorded(requestId); // the registry took no blob from it: what it stored is the session's
      ScopePath namespaceOnly = new ScopePath(client, repository, List.of());
      return namespaceOnly.run(LuaScripts.SETTLE, List.of(), List.of(), List.of(requestId, sessionId, repository,
          Long.toString(storedBytes), sessionDirty ? "1" : "0", Long.toString(reservationTtlMillis)))
          .onComplete(v -> ended(requestId)).mapEmpty();
    });
  }

  @Override
  public Future<Reservation> openSession(String repository, String sessionId) {
    return inDoubt.reserving("open_session", repository, sessionId, () -> {
      checkId(sessionId);
      ScopePath path = new ScopePath(client, repository);
      List<String> args = List.of(sessionId, repository, Long.toString(reservationTtlMillis));
      return gate
          .write(path.namespace, () -> path.run(LuaScripts.OPEN_SESSION, path.presentKeys(), List.of(path.keys.links(repository)), args))
          .map(path::reservation);
    });
  }

  @Override
  public Future<Session> session(String repository, String sessionId) {
    return client.guarded("session", () -> {
      checkId(sessionId);
      ScopePath namespaceOnly = new ScopePath(client, repository, List.of());
      return namespaceOnly.run(LuaScripts.SESSION, List.of(), List.of(), List.of(sessionId)).map(reply -> reply.get(0).toLong() == 1
          ? new Session(true, reply.get(1).toLong(), reply.get(2).toLong() == 1)
          : Session.UNKNOWN);
    });
  }

  @Override
  public Future<Commit> commitBlob(String repository, String requestId, String sessionId, Blob blob, String user) {
    return commitBlob(repository, requestId, sessionId, blob, user, "");
  }

  @Override
  public Future<Commit> commitBlobLate(String repository, String requestId, String sessionId, Blob blob, long endedAtMillis) {
    return commitBlob(repository, requestId, sessionId, blob, "", Long.toString(endedAtMillis));
  }

  /** {@code since}: when the request ended, for a commit settled late (see commit_blob.lua); '' otherwise. */
  private Future<Commit> commitBlob(String repository, String requestId, String sessionId, Blob blob, String user, String since) {
    return client.guarded("commit_blob", () -> {
      // The size comes from bytes the proxy counted or from the registry; a known size wins over it anyway.
      check(blob.size() >= 0 && blob.size() < MAX_EXACT, "a blob's size must be 0 to 2^53: " + blob);
      ScopePath path = new ScopePath(client, repository, user);
      List<String> args = List.of(orNone(requestId), orNone(sessionId), blob.digest(), Long.toString(blob.size()),
          Long.toString(reservationTtlMillis), since);
      return gate
          .write(path.namespace,
              () -> path.run(LuaScripts.COMMIT_BLOB, path.presentKeys(), List.of(path.keys.freed(), path.keys.links(repository)), args))
          .map(path::commit)
          .onComplete(v -> recorded(requestId, v.succeeded())).onComplete(v -> ended(requestId));
    });
  }

  @Override
  public Future<Commit> commitManifest(String repository, String requestId, Blob manifest, List<Blob> references, String user) {
    return commitManifest(repository, requestId, manifest, references, user, "");
  }

  @Override
  public Future<Commit> commitManifestLate(String repository, String requestId, Blob manifest, List<Blob> references, long endedAtMillis) {
    return commitManifest(repository, requestId, manifest, references, "", Long.toString(endedAtMillis));
  }

  private Future<Commit> commitManifest(String repository, String requestId, Blob manifest, List<Blob> references, String user,
      String since) {
    return client.guarded("commit_manifest", () -> {
      // A manifest's size is its body's, always known: it was read whole to decide on it.
      check(manifest.size() >= 0 && manifest.size() < MAX_EXACT, "a manifest's size must be 0 to 2^53: " + manifest);
      ScopePath path = new ScopePath(client, repository, user);
      List<String> args = new ArrayList<>(List.of(orNone(requestId), manifest.digest(), Long.toString(manifest.size()),
          Long.toString(reservationTtlMillis), since));
      ScopePath.addBlobs(args, references);
      return gate
          .write(path.namespace, () -> path.run(LuaScripts.COMMIT_MANIFEST, path.presentKeys(), path.manifestKeys(manifest.digest()), args))
          .map(path::commit).onComplete(v -> recorded(requestId, v.succeeded())).onComplete(v -> ended(requestId));
    });
  }

  @Override
  public Future<Change> dropBlob(String repository, String digest, String user, String requestId) {
    return client.guarded("drop_blob", () -> {
      ScopePath path = new ScopePath(client, repository, user);
      // The repository's manifests decide whether the registry's garbage collection keeps the blob.
      List<String> manifestKeys = List.of(path.keys.manifests(repository), path.keys.referenceCounts(repository), path.keys.freed(),
          path.keys.links(repository));
      return gate
          .write(path.namespace, () -> path.run(LuaScripts.DROP_BLOB, path.presentKeys(), manifestKeys, List.of(digest, orNone(requestId))))
          .map(path::change).onComplete(v -> recorded(requestId, v.succeeded()))
          // A commit of the blob this process could not record yet is overtaken: charged by a manifest, or gone.
          .onSuccess(v -> pendingCommits(repository, digest).forEach(commit -> release(repository, commit.requestId(), -1)));
    });
  }

  @Override
  public Future<Change> dropManifest(String repository, String manifestDigest, String user, String requestId) {
    // A commit of the manifest this process could not record yet goes first, so its references are known, and freed.
    Future<?> first = Future.succeededFuture();
    for (Intent commit : pendingCommits(repository, manifestDigest)) {
      first = first.compose(v -> commitManifestLate(repository, commit.requestId(), new Blob(manifestDigest, commit.size()),
          commit.references(), commit.endedAtMillis()));
    }
    return first.transform(v -> client.guarded("drop_manifest", () -> {
      ScopePath path = new ScopePath(client, repository, user);
      return gate.write(path.namespace, () -> path.run(LuaScripts.DROP_MANIFEST, path.presentKeys(), path.manifestKeys(manifestDigest),
          List.of(manifestDigest, orNone(requestId)))).map(path::change).onComplete(v2 -> recorded(requestId, v2.succeeded()));
    }));
  }

  private List<Intent> pendingCommits(String repository, String digest) {
    return live == null ? List.of() : live.unsettledCommits(repository, digest);
  }

  @Override
  public Future<Void> recordRejection(String repository, String user, Rejection rejection) {
    return client.guarded("record_rejection", () -> {
      ScopePath path = new ScopePath(client, repository, user);
      List<String> args = List.of(rejection.scope(), rejection.resource(), Long.toString(rejection.requested()),
          Long.toString(rejection.usage()), Long.toString(rejection.limit()), rejection.reason());
      return gate.write(path.namespace, () -> path.run(LuaScripts.RECORD_REJECTION, List.of(), List.of(), args)).mapEmpty();
    });
  }

  @Override
  public Future<Boolean> namespaceKnown(String namespace) {
    return client.guarded("namespace_known", () -> client.redis.send(Request.cmd(Command.EXISTS).arg(QuotaKeys.of(namespace).epoch()))
        .map(reply -> reply != null && reply.toLong() == 1));
  }

  @Override
  public Future<Long> sizeOf(String namespace, String digest) {
    return client.guarded("size_of", () -> client.redis.send(Request.cmd(Command.HGET).arg(QuotaKeys.of(namespace).sizes()).arg(digest))
        .map(size -> size == null ? -1L : size.toLong()));
  }

  @Override
  public Future<Map<String, Long>> sizesOf(String namespace, List<String> digests) {
    return client.guarded("sizes_of", () -> {
      List<String> distinct = List.copyOf(new LinkedHashSet<>(digests));
      if (distinct.isEmpty()) {
        return Future.succeededFuture(Map.of());
      }
      Request hmget = Request.cmd(Command.HMGET).arg(QuotaKeys.of(namespace).sizes());
      distinct.forEach(hmget::arg);
      return client.redis.send(hmget).map(reply -> {
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
    if (egressLimits != null && bytes >= 0 && bytes < MAX_EXACT && !egressLimits.anyOnPathOf(repository)) {
      // No scope of the path has an egress limit: nothing to reserve in, no window to settle.
      return Future.succeededFuture(new EgressGrant(true, bytes, Collections.nCopies(Scopes.of(repository).size(), ""), null));
    }
    return client.guarded("reserve_egress", () -> {
      check(bytes >= 0 && bytes < MAX_EXACT, "egress bytes must be 0 to 2^53: " + bytes);
      ScopePath path = new ScopePath(client, repository);
      return path.run(LuaScripts.RESERVE_EGRESS, path.egressKeys(), List.of(), List.of(Long.toString(bytes)))
          .map(reply -> path.egressGrant(reply, bytes));
    });
  }

  @Override
  public Future<Void> settleEgress(String repository, EgressGrant grant, long sentBytes) {
    return client.guarded("settle_egress", () -> {
      check(sentBytes >= 0 && sentBytes < MAX_EXACT, "sent bytes must be 0 to 2^53: " + sentBytes);
      if (!grant.allowed()) {
        return Future.succeededFuture();
      }
      ScopePath path = new ScopePath(client, repository);
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
    long now = System.currentTimeMillis();
    return batches != null ? batches.add(repository, user, traffic, now) : meterAt(repository, user, traffic, now);
  }

  /** Adds traffic to the counters of the hour holding {@code atMillis}. */
  private Future<Void> meterAt(String repository, String user, Traffic traffic, long atMillis) {
    return client.guarded("meter", () -> {
      check(traffic.ingressBytes() >= 0 && traffic.ingressBytes() < MAX_EXACT && traffic.egressBytes() >= 0
          && traffic.egressBytes() < MAX_EXACT && traffic.pushes() >= 0 && traffic.pulls() >= 0,
          "traffic counts must be 0 to 2^53: " + traffic);
      ScopePath path = new ScopePath(client, repository, user);
      long hour = atMillis / HOUR_MILLIS;
      List<String> args = List.of(Long.toString(traffic.ingressBytes()), Long.toString(traffic.egressBytes()),
          Integer.toString(traffic.pushes()), Integer.toString(traffic.pulls()), Long.toString(TRAFFIC_RETENTION_SECONDS),
          Long.toString(hour * (HOUR_MILLIS / 1000)));
      return gate.write(path.namespace, () -> path.run(LuaScripts.METER, path.presentKeys(), List.of(path.keys.traffic(hour)), args))
          .mapEmpty();
    });
  }

  @Override
  public Future<ScopeState> scope(String scope) {
    return client.guarded("scope", () -> {
      ScopePath path = new ScopePath(client, scope, List.of(scope));
      return path.run(LuaScripts.SCOPE, path.presentKeys(), List.of(), List.of()).map(reply -> path.states(reply, 0).get(0));
    });
  }

  @Override
  public Future<Void> intendCommit(String repository, String requestId, String sessionId, String digest) {
    return leases.intend(new Intent(requestId, Intent.What.COMMIT, repository, digest, sessionId, -1, List.of()));
  }

  @Override
  public Future<Void> intendDelete(String repository, String requestId, String digest, boolean manifest) {
    return leases.intend(
        new Intent(requestId, manifest ? Intent.What.DROP_MANIFEST : Intent.What.DROP_BLOB, repository, digest, null, -1, List.of()));
  }

  @Override
  public Future<Void> intendManifest(String repository, String requestId, Blob manifest, List<Blob> references) {
    return leases.intend(new Intent(requestId, Intent.What.COMMIT_MANIFEST, repository, manifest.digest(), null, manifest.size(),
        List.copyOf(references)));
  }

  /** A request's reservation is a lease when it is kept alive by {@link RequestLeases#keep}; everything else lives its TTL. */
  private long ttlOf(String id) {
    return live != null && LiveReservations.kept(id) ? RequestLeases.leaseMillis(reservationTtlMillis) : reservationTtlMillis;
  }

  /** This process renews what the grant holds while the request goes on, and holds it again if Redis loses it. */
  private Reservation kept(String requestId, String repository, Reservation granted, List<String> slots) {
    if (live != null && granted.granted()) {
      live.granted(requestId, repository, granted.grantedBytes(), slots);
    }
    return granted;
  }

  @Override
  public void requestEnded(String requestId) {
    ended(requestId);
    if (live != null) {
      live.requestOver(requestId);
    }
  }

  /** The outcome of what the id intended is recorded (or there was none): this process no longer settles it. */
  private void recorded(String id) {
    recorded(id, true);
  }

  /** The registry's answer to what the id intended was recorded, or recording it failed: then this process settles it. */
  private void recorded(String id, boolean succeeded) {
    if (live != null && succeeded) {
      live.outcomeRecorded(id);
    } else if (live != null) {
      live.outcomeNotRecorded(id);
    }
  }

  private void ended(String requestId) {
    if (live != null) {
      live.ended(requestId);
    }
  }

  /** Completes once every reserve that failed so far, and the release that followed it, has been answered. For tests. */
  Future<Void> inDoubtSettled() {
    return inDoubt.settled();
  }
}
