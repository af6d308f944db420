package dev.quotaproxy.proxy.quota;

import io.vertx.core.Future;
import java.util.List;
import java.util.Optional;

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

  /**
   * Reserves the same number of bytes in every scope of the path, all or nothing: grants
   * {@code min(maxBytes, smallest headroom)} if that is at least {@code minBytes}, where headroom is
   * hard - used - reserved. Adds to the reservation's bytes and its session total, refreshes its TTL.
   * With {@code minBytes == maxBytes == 0} it grants nothing and refuses when any scope is already at
   * or over its hard limit (the check at upload start).
   */
  Future<Reservation> reserveBytes(String repository, String reservationId, long minBytes, long maxBytes);

  /**
   * Reserves, in each scope of the path, the total size of those blobs absent from that scope
   * (blobs listed twice count once): what a manifest PUT or a cross-repository mount would add.
   * All or nothing; a need of 0 in every scope is granted even where a scope is over its limit.
   */
  Future<Reservation> reserveBlobs(String repository, String reservationId, List<Blob> blobs);

  /**
   * Gives back {@code bytes} of a reservation in every scope (all of it when -1, or when it holds
   * less), and takes them off its session total too: bytes given back were never uploaded.
   */
  Future<Void> release(String repository, String reservationId, long bytes);

  /**
   * The registry accepted the blob: it becomes used in every scope where it was absent, its size is
   * indexed, and the reservation is released whole. A size of -1 means the session total of the
   * reservation; if that is unknown too (expired), the result says so and nothing changes.
   */
  Future<Commit> commitBlob(String repository, String reservationId, Blob blob, String user);

  /**
   * The registry accepted the manifest: it and every blob it references become used where absent;
   * if the manifest is new to the repository its references are counted (so a delete can tell which
   * blobs no manifest needs any more); the reservation is released whole.
   */
  Future<Commit> commitManifest(String repository, String reservationId, Blob manifest, List<Blob> references, String user);

  /** The registry deleted the blob from the repository: it leaves each scope where no other repository under it holds it. */
  Future<Change> dropBlob(String repository, String digest, String user);

  /**
   * The registry deleted the manifest: it and every blob that no remaining manifest of the repository
   * references leave the repository (and each ancestor where no other repository holds them).
   */
  Future<Change> dropManifest(String repository, String manifestDigest, String user);

  /** A request was refused by a quota: records the refusal, with who asked, for reports. */
  Future<Void> recordRejection(String repository, String user, Rejection rejection);

  /** A blob's size as indexed when it was committed anywhere in the namespace, or -1. */
  Future<Long> sizeOf(String namespace, String digest);

  /** Whether the repository's scopes may serve a pull now, against their egress limits. */
  Future<EgressCheck> checkEgress(String repository);

  /** Adds a request's traffic to the hourly counters of every scope of the path and of the user, and to egress windows. */
  Future<Void> meter(String repository, String user, Traffic traffic);

  /** Sets a scope's limits, effective for the next decision of every proxy instance. */
  Future<Void> putLimits(String scope, ScopeLimits limits);

  /** A scope's usage and limits. */
  Future<ScopeState> scope(String scope);

  /** Sum of used and reserved bytes over all top-level namespaces: the system scope. */
  Future<SystemUsage> systemUsage();

  /** Stores the system settings where every proxy instance reads them. */
  Future<Void> putSystemSettings(SystemSettings settings);

  /** The system settings as stored; empty when none are (never written, or the store lost its data). */
  Future<Optional<SystemSettings>> systemSettings();

  /** {@code sha256:...} and its size in bytes. */
  record Blob(String digest, long size) {}

  /**
   * @param grantedBytes bytes added to the reservation (0 for blob reservations that needed nothing)
   * @param denial       why it was refused, or null when granted
   */
  record Reservation(long grantedBytes, Denial denial) {
    public boolean granted() {
      return denial == null;
    }
  }

  /**
   * A refusal as reported: where, of what ({@code storage_bytes}, {@code egress_bytes}), how much was
   * asked against what usage and limit, and why ({@code storage_limit}, {@code read_only}, {@code egress_limit}).
   */
  record Rejection(String scope, String resource, long requested, long usage, long limit, String reason) {
    public static Rejection of(Denial denial) {
      return new Rejection(denial.scope(), "storage_bytes", denial.requested(), denial.used() + denial.reserved(),
          denial.hardLimit(), "storage_limit");
    }
  }

  /**
   * The first scope on the path (outermost first) that could not take the request.
   *
   * @param reserved      all bytes in flight in the scope, this reservation's included
   * @param heldByRequest what this reservation already held there (earlier chunks of the same upload)
   */
  record Denial(String scope, long used, long reserved, long hardLimit, long requested, long heldByRequest) {
    public Denial(String scope, long used, long reserved, long hardLimit, long requested) {
      this(scope, used, reserved, hardLimit, requested, 0);
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

  record ScopeState(String scope, long used, long reserved, ScopeLimits limits) {}

  /**
   * @param storageHard         bytes, or -1
   * @param storageSoft         bytes, or -1 (a warning threshold, never a refusal)
   * @param egress              bytes per egress window, or -1
   * @param egressWindowSeconds length of the calendar window egress is counted in (aligned to the epoch)
   */
  record ScopeLimits(long storageHard, long storageSoft, long egress, long egressWindowSeconds) {
    public static final ScopeLimits UNLIMITED = new ScopeLimits(-1, -1, -1, 3600);
  }

  /**
   * @param allowed           false when a scope is at or over its egress limit in the current window
   * @param scope             the refusing scope, when refused
   * @param retryAfterSeconds until that scope's window ends
   */
  record EgressCheck(boolean allowed, String scope, long used, long limit, long windowSeconds, long retryAfterSeconds) {
    public static final EgressCheck ALLOWED = new EgressCheck(true, null, 0, -1, 0, 0);
  }

  /** Body bytes of one request and whether it was a push (manifest PUT) or a pull (manifest GET). */
  record Traffic(long ingressBytes, long egressBytes, int pushes, int pulls) {}

  record SystemUsage(long used, long reserved) {}

  /**
   * @param hardStorage    bytes the whole registry may hold, or -1
   * @param writeRatio     fraction of hardStorage (0 to 1) at which the registry turns read-only
   * @param readOnlyForced read-only set by hand, whatever the usage
   */
  record SystemSettings(long hardStorage, double writeRatio, boolean readOnlyForced) {
    public static final SystemSettings DEFAULTS = new SystemSettings(-1, 1.0, false);
  }
}
