package dev.quotaproxy.metering;

import dev.quotaproxy.config.Limits;
import dev.quotaproxy.oci.Blob;
import io.vertx.core.Future;
import java.util.List;
import java.util.Map;

/**
 * The metering store: every quota decision and every committed change, each one atomic over all
 * scopes of a repository's path. Implemented over Redis by {@link RedisQuotaStore}; the scopes of one
 * top-level namespace share a hash slot, so every call is one script on one shard.
 *
 * <p>Vocabulary. A scope's <em>used</em> bytes are the sizes of the distinct blobs present in it
 * (layers, configs, manifests); its <em>reserved</em> bytes are in flight: uploaded or being uploaded
 * but not committed. A reservation belongs to an id (an upload session, or one request) and expires
 * after the store's TTL, refreshed by every reserve on it; an expired reservation is released by the
 * next call on its namespace. Limits of -1 mean unlimited.
 *
 * <p>Every committed change (a blob added to or removed from a repository, a manifest added or
 * removed, a request's traffic, a refusal) is also appended, in the same atomic step, to the
 * namespace's event stream, with the {@code user} it was done for: the ledger's input.
 *
 * <p>Failed futures mean the store could not be asked (Redis down, script error); a refused quota is
 * a succeeded future carrying a {@link Denial}.
 */
public interface QuotaStore {

  /*
   * Reservation ids. Every request that reserves storage does so under an id of its own (a request id,
   * unique per request and never reused). A request that belongs to an upload session names the session
   * too: when the request ends, what the registry stored of it moves into the session's reservation
   * ({@link #settle}), where it stays until the session is committed, cancelled or expires. A released or
   * settled request id is retired: a reserve that arrives for it later (a call that timed out here but
   * still reached Redis) grants nothing, so releasing after a timeout never leaves bytes behind.
   */

  /**
   * Reserves for the request {@code requestId} the same number of bytes in every scope of the path, all
   * or nothing: grants {@code min(maxBytes, smallest headroom)} if that is at least {@code minBytes},
   * where headroom is hard - used - reserved. Adds to the request's reservation, renews its TTL.
   * {@code sessionId} (null when the request has no upload session) only informs a denial: its
   * {@code heldByRequest} is what the request and its session hold together, so the caller can tell room
   * taken by other uploads from room this upload took. A retired request id is refused with
   * {@link Reservation#RETIRED}.
   */
  Future<Reservation> reserveBytes(String repository, String requestId, String sessionId, long minBytes, long maxBytes);

  /**
   * Reserves for the request, in each scope of the path, the total size of those blobs absent from that
   * scope (blobs listed twice count once): what a manifest PUT or a cross-repository mount would add.
   * A blob whose size the namespace already knows is reserved at the known size; if the size given
   * differs, nothing is reserved and the result carries a {@link SizeConflict}. All or nothing; a need of
   * 0 in every scope is granted even where a scope is over its limit.
   */
  Future<Reservation> reserveBlobs(String repository, String requestId, List<Blob> blobs);

  /**
   * As {@link #reserveBlobs} of the manifest and its references, for a manifest PUT: a manifest new to the
   * repository also takes a slot of every scope's {@code manifests_hard} (refused, a {@link Denial} of
   * {@link Denial#MANIFESTS}, when one is full), held until the commit counts it or the request ends. Every
   * reserving call takes a repository slot the same way when the repository holds nothing yet.
   */
  default Future<Reservation> reserveManifest(String repository, String requestId, Blob manifest, List<Blob> references) {
    List<Blob> blobs = new java.util.ArrayList<>();
    blobs.add(manifest);
    blobs.addAll(references);
    return reserveBlobs(repository, requestId, blobs);
  }

  /**
   * Gives back {@code bytes} of a reservation in every scope (all of it when -1, or when it holds less).
   * With -1 the id is retired (see above), whether it held anything or not.
   */
  Future<Void> release(String repository, String reservationId, long bytes);

  /**
   * A request of an upload session is over. Of what the request holds, {@code storedBytes} (at most all
   * of it) were stored by the registry: they move into the session's reservation (created if missing),
   * the rest is released, and the request id is retired. {@code sessionDirty} records that the registry
   * may hold bytes of the session that no reservation covers (a request cut off or failed after some of
   * its bytes went upstream): the session's close must then ask the registry what it holds.
   */
  Future<Void> settle(String repository, String requestId, String sessionId, long storedBytes, boolean sessionDirty);

  /**
   * The registry opened an upload session: refused (a {@link Denial} with 0 requested) when a scope of
   * the path is at or over its hard limit, or (a {@link Denial} of {@link Denial#REPOSITORIES}) when the
   * repository holds nothing yet and a scope has no room for one more; otherwise the session is recorded,
   * holding nothing (no bytes, no repository slot: its first bytes take one) and clean, so its close knows
   * the proxy saw all of its bytes.
   */
  Future<Reservation> openSession(String repository, String sessionId);

  /** What the store knows of an upload session: whether it is recorded, the bytes it holds, whether it is dirty. */
  Future<Session> session(String repository, String sessionId);

  /**
   * The registry accepted the blob: it becomes used in every scope where it was absent, and the request's
   * and the session's reservations (either may be null) are released whole and retired. The size is the
   * namespace's known size for the digest when it has one (a known size is never overwritten); otherwise
   * {@code blob.size()}, which must be 0 or more.
   */
  Future<Commit> commitBlob(String repository, String requestId, String sessionId, Blob blob, String user);

  /**
   * The registry accepted the manifest: it and every blob it references become used where absent (each
   * at its known size when the namespace has one); if the manifest is new to the repository its
   * references are counted (so a delete can tell which blobs no manifest needs any more); the request's
   * reservation is released whole and retired.
   */
  Future<Commit> commitManifest(String repository, String requestId, Blob manifest, List<Blob> references, String user);

  /**
   * As {@link #commitBlob}, settled late from the intent of a request that ended at {@code endedAtMillis}
   * without its outcome recorded: nothing is charged if the repository freed the blob since (a manifest
   * charged it meanwhile, and that manifest's delete freed it: the link the registry keeps is not usage).
   */
  Future<Commit> commitBlobLate(String repository, String requestId, String sessionId, Blob blob, long endedAtMillis);

  /** As {@link #commitManifest}, settled late as {@link #commitBlobLate}: nothing changes if the repository freed the manifest since. */
  Future<Commit> commitManifestLate(String repository, String requestId, Blob manifest, List<Blob> references, long endedAtMillis);

  /**
   * The registry unlinked the blob from the repository: it leaves each scope where no other repository
   * under it holds it, unless a manifest of the repository still references it (the registry's garbage
   * collection keeps such a blob, so it stays charged).
   */
  default Future<Change> dropBlob(String repository, String digest, String user) {
    return dropBlob(repository, digest, user, null);
  }

  /** As {@link #dropBlob(String, String, String)}, ending the intent of the deleting request ({@link #intendDelete}). */
  Future<Change> dropBlob(String repository, String digest, String user, String requestId);

  /**
   * The registry deleted the manifest: it and every blob that no remaining manifest of the repository
   * references leave the repository (and each ancestor where no other repository holds them).
   */
  default Future<Change> dropManifest(String repository, String manifestDigest, String user) {
    return dropManifest(repository, manifestDigest, user, null);
  }

  /** As {@link #dropManifest(String, String, String)}, ending the intent of the deleting request ({@link #intendDelete}). */
  Future<Change> dropManifest(String repository, String manifestDigest, String user, String requestId);

  /** A request was refused by a quota: records the refusal, with who asked, for reports. */
  Future<Void> recordRejection(String repository, String user, Rejection rejection);

  /** A blob's size as indexed when it was committed anywhere in the namespace, or -1. */
  Future<Long> sizeOf(String namespace, String digest);

  /**
   * Whether the store holds the namespace's state now (it is known, see common.lua): a question that
   * creates nothing, for decisions that must not create a namespace's state for a request the registry
   * has not authorised yet.
   */
  Future<Boolean> namespaceKnown(String namespace);

  /**
   * The request that reserved under {@code requestId} has ended: whatever it still holds is no longer
   * kept alive by this process (a store that renews requests' reservations stops renewing it, and it
   * expires unless it was released, settled or committed already). Never fails.
   */
  default void requestEnded(String requestId) {
  }

  /**
   * Records, before a closing PUT (or monolithic upload) goes to the registry, that the request may make
   * it store {@code digest} in {@code repository}: if the proxy dies before charging the registry's
   * answer, another looks the blob up and charges it. Ended with the request's id (commit, release,
   * settle).
   */
  default Future<Void> intendCommit(String repository, String requestId, String sessionId, String digest) {
    return Future.succeededFuture();
  }

  /**
   * Records, before a DELETE of a blob ({@code manifest} false) or of a manifest by digest goes to the
   * registry, that the request may make it unlink {@code digest}: if the drop is not recorded (the
   * proxy died, or its store call failed), another asks the registry and records it. Ended by the drop,
   * or by the request's id ending.
   */
  default Future<Void> intendDelete(String repository, String requestId, String digest, boolean manifest) {
    return Future.succeededFuture();
  }

  /** As {@link #intendCommit}, for a manifest {@code PUT}: with what its commit charges, the manifest and its references. */
  default Future<Void> intendManifest(String repository, String requestId, Blob manifest, List<Blob> references) {
    return Future.succeededFuture();
  }

  /** {@link #sizeOf} of several digests at once: each digest maps to its size, or -1. */
  Future<Map<String, Long>> sizesOf(String namespace, List<String> digests);

  /**
   * Reserves {@code bytes} of egress, before a pull's body moves, in the current window of every scope of
   * the path that has an egress limit: refused (nothing reserved) when the first scope, outermost first,
   * would pass its limit, i.e. used + bytes > limit; with 0 bytes (a body of unknown length) refused only
   * when a scope is at or over its limit. Windows are counted on the Redis clock.
   */
  Future<EgressGrant> reserveEgress(String repository, long bytes);

  /**
   * The pull is over: {@code sentBytes} of the grant's bytes went out. The difference goes back to (or,
   * for a body of unknown length, is added to) each window the grant reserved in, if that window is still
   * the current one; a counter never goes below 0.
   */
  Future<Void> settleEgress(String repository, EgressGrant grant, long sentBytes);

  /**
   * Adds a request's traffic to the hourly counters of every scope of the path and of the user. Egress
   * windows are not touched here: {@link #reserveEgress} and {@link #settleEgress} keep them.
   */
  Future<Void> meter(String repository, String user, Traffic traffic);

  /** Writes what this store holds back (traffic added up in memory); at shutdown, and every flush interval. */
  default Future<Void> flush() {
    return Future.succeededFuture();
  }

  /** A scope's usage and limits. Limits are written by {@link RedisLimits}; every scope is read by {@link UsageReader}. */
  Future<ScopeState> scope(String scope);

  /**
   * @param grantedBytes bytes added to the reservation (0 for blob reservations that needed nothing)
   * @param denial       why it was refused for room, or null
   * @param conflict     a blob given with another size than the namespace knows for it, or null
   * @param retired      the request id was released or settled before this reserve arrived: nothing granted
   */
  record Reservation(long grantedBytes, Denial denial, SizeConflict conflict, boolean retired) {
    public static final Reservation RETIRED = new Reservation(0, null, null, true);

    public Reservation(long grantedBytes, Denial denial) {
      this(grantedBytes, denial, null, false);
    }

    public boolean granted() {
      return denial == null && conflict == null && !retired;
    }
  }

  /** A blob given with {@code claimed} bytes whose digest the namespace knows at {@code known} bytes. */
  record SizeConflict(String digest, long known, long claimed) {}

  /**
   * @param recorded whether the store holds the session (false: never opened here, or expired)
   * @param held     bytes its reservation holds: what the registry stored of its chunks, as far as the proxy saw
   * @param dirty    the registry may hold bytes of it beyond {@code held}
   */
  record Session(boolean recorded, long held, boolean dirty) {
    public static final Session UNKNOWN = new Session(false, 0, true);
  }

  /**
   * An egress reservation: allowed or refused (then {@code refusal} says by which scope), and, when
   * allowed, the bytes reserved and the windows they went to (one entry per scope of the path with an
   * egress limit, opaque to callers) so that {@link #settleEgress} corrects the same windows.
   */
  record EgressGrant(boolean allowed, long reservedBytes, List<String> windows, EgressCheck refusal) {
    public static EgressGrant refused(EgressCheck check) {
      return new EgressGrant(false, 0, List.of(), check);
    }
  }

  /**
   * A refusal as reported: where, of what ({@code storage_bytes}, {@code egress_bytes}), how much was
   * asked against what usage and limit, and why ({@code storage_limit}, {@code read_only}, {@code egress_limit}).
   */
  record Rejection(String scope, String resource, long requested, long usage, long limit, String reason) {
    public static Rejection of(Denial denial) {
      return new Rejection(denial.scope(), denial.resource(), denial.requested(), denial.used() + denial.reserved(),
          denial.hardLimit(), denial.countLimit() ? denial.resource() + "_limit" : "storage_limit");
    }
  }

  /**
   * The first scope on the path (outermost first) that could not take the request.
   *
   * @param reserved      all bytes in flight in the scope, this reservation's included (for a count: slots in flight)
   * @param heldByRequest what this reservation already held there (earlier chunks of the same upload)
   * @param resource      {@link #STORAGE}, or the count refused: {@link #REPOSITORIES}, {@link #MANIFESTS}
   * @param subject       for a count: the new repository, or the new manifest's digest; null for storage
   */
  record Denial(String scope, long used, long reserved, long hardLimit, long requested, long heldByRequest, String resource,
      String subject) {
    /** The resource of a storage denial. */
    public static final String STORAGE = "storage_bytes";
    /** The resources of count denials: used, reserved and the limit are then counts, requested 1. */
    public static final String REPOSITORIES = "repositories";
    public static final String MANIFESTS = "manifests";

    public Denial(String scope, long used, long reserved, long hardLimit, long requested, long heldByRequest) {
      this(scope, used, reserved, hardLimit, requested, heldByRequest, STORAGE, null);
    }

    public Denial(String scope, long used, long reserved, long hardLimit, long requested) {
      this(scope, used, reserved, hardLimit, requested, 0);
    }

    /** Refused by a count limit ({@link #REPOSITORIES} or {@link #MANIFESTS}) rather than bytes. */
    public boolean countLimit() {
      return !STORAGE.equals(resource);
    }
  }

  /**
   * @param sizeKnown false when a session total was asked for and the reservation had expired
   * @param size      the committed blob's size (the session total when asked for)
   * @param scopes    every scope of the path after the change, outermost first
   */
  record Commit(boolean sizeKnown, long size, List<ScopeState> scopes) {}

  /** @param scopes every scope of the path after the change, outermost first */
  record Change(List<ScopeState> scopes) {}

  /** A scope on the path of a call: its committed and in-flight bytes, its counts and its limits, as the script left them. */
  record ScopeState(String scope, long used, long reserved, Limits limits, ScopeCounts counts) {
    /** A scope whose counts are all 0. */
    public ScopeState(String scope, long used, long reserved, Limits limits) {
      this(scope, used, reserved, limits, ScopeCounts.NONE);
    }
  }

  /**
   * @param allowed           false when a scope is at or over its egress limit in the current window
   * @param scope             the refusing scope, when refused
   * @param retryAfterSeconds until that scope's window ends
   * @param requested         the bytes the refused pull would have sent (0 when unknown)
   */
  record EgressCheck(boolean allowed, String scope, long used, long limit, long windowSeconds, long retryAfterSeconds, long requested) {
    public static final EgressCheck ALLOWED = new EgressCheck(true, null, 0, -1, 0, 0, 0);

    public EgressCheck(boolean allowed, String scope, long used, long limit, long windowSeconds, long retryAfterSeconds) {
      this(allowed, scope, used, limit, windowSeconds, retryAfterSeconds, 0);
    }
  }

  /** Body bytes of one request and whether it was a push (manifest PUT) or a pull (manifest GET). */
  record Traffic(long ingressBytes, long egressBytes, int pushes, int pulls) {}

}
