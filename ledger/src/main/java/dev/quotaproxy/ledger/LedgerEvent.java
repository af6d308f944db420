package dev.quotaproxy.ledger;

import java.time.Instant;
import java.util.List;

/**
 * A committed accounting change, as the metering store appended it to its event stream in the same
 * atomic step that changed its counters. The ledger applies each exactly once, by its {@link #id()}.
 *
 * <p>Events describe repositories; the scopes they touch are the repository's path
 * ({@link Scopes#of}). Storage events name the scopes whose usage they changed, because only the
 * store knew, at that instant, where a blob was new or last.
 */
public sealed interface LedgerEvent {

  /** Unique and stable across redeliveries: {@code <namespace>/<stream entry id>}. */
  String id();

  /** When the store made the change (its clock). */
  Instant at();

  String repository();

  /** Who the request acted for: a user name, a token subject, or {@code anonymous}. */
  String user();

  /**
   * A blob (layer, config or manifest) became linked to the repository.
   *
   * @param filled the repository's first link: it counts from now on in the {@code repositories} of every scope
   *               of its path (false in events written before the store said so)
   */
  record BlobAdded(String id, Instant at, String repository, String user, String digest, long size,
      List<String> chargedScopes, boolean filled) implements LedgerEvent {
    public BlobAdded {
      chargedScopes = List.copyOf(chargedScopes);
    }

    public BlobAdded(String id, Instant at, String repository, String user, String digest, long size, List<String> chargedScopes) {
      this(id, at, repository, user, digest, size, chargedScopes, false);
    }
  }

  /**
   * A blob was unlinked from the repository (a delete, or no manifest references it any more).
   *
   * @param emptied the repository's last link: it no longer counts in the {@code repositories} of its path's scopes
   */
  record BlobRemoved(String id, Instant at, String repository, String user, String digest, long size,
      List<String> freedScopes, boolean emptied) implements LedgerEvent {
    public BlobRemoved {
      freedScopes = List.copyOf(freedScopes);
    }

    public BlobRemoved(String id, Instant at, String repository, String user, String digest, long size, List<String> freedScopes) {
      this(id, at, repository, user, digest, size, freedScopes, false);
    }
  }

  /**
   * A manifest new to the repository, with the digests it references (config, layers, child manifests): one more
   * in the {@code manifests} of every scope of its path.
   */
  record ManifestAdded(String id, Instant at, String repository, String user, String digest,
      List<String> references) implements LedgerEvent {
    public ManifestAdded {
      references = List.copyOf(references);
    }
  }

  /** A manifest deleted from the repository: one less in the {@code manifests} of every scope of its path. */
  record ManifestRemoved(String id, Instant at, String repository, String user, String digest) implements LedgerEvent {}

  /** One request's traffic, counted into the hour that starts at {@code hour}. */
  record TrafficMetered(String id, Instant at, String repository, String user, Instant hour,
      long ingressBytes, long egressBytes, int pushes, int pulls) implements LedgerEvent {}

  /** A push refused by a quota: what was asked, and where it did not fit. */
  record Rejected(String id, Instant at, String repository, String user, String scope, String resource,
      long requested, long usage, long limit, String reason) implements LedgerEvent {}

  /**
   * A request is about to make the registry store or delete something (its intent, recorded in Redis before the
   * request goes): open until {@link IntentClosed}. Kept so that Redis losing its data does not lose it.
   *
   * @param what       commit, commit_manifest, drop_blob or drop_manifest
   * @param sessionId  the upload session ('' for none)
   * @param size       the manifest's size for commit_manifest, -1 for none
   * @param references the manifest's references as charged, {@code digest:size,...} ('' for none)
   */
  record IntentOpened(String id, Instant at, String repository, String user, String requestId, String what, String digest,
      String sessionId, long size, String references) implements LedgerEvent {}

  /** The request's intent ended: its outcome was recorded, or the request ended without one. */
  record IntentClosed(String id, Instant at, String repository, String user, String requestId) implements LedgerEvent {}
}
