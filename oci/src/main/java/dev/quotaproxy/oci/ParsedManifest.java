package dev.quotaproxy.oci;

import java.util.List;

/**
 * What a manifest PUT adds to a repository, as {@link ManifestParser} read it.
 *
 * @param mediaType  the type the manifest was understood as; for a manifest that is not understood,
 *                   the type its Content-Type or its {@code mediaType} field names, or "" when none does
 * @param digest     {@code sha256:} and the hex of the body exactly as sent: the manifest's own identity
 * @param size       length of the body in bytes
 * @param references the distinct blobs (or, for an index, manifests) it points at, in order of
 *                   first appearance; empty for types whose layout is not understood
 */
public record ParsedManifest(String mediaType, String digest, long size, List<Blob> references) {

  public ParsedManifest {
    references = List.copyOf(references);
  }

  /** Whether its references are manifests (an index or a list) rather than blobs (config and layers). */
  public boolean referencesManifests() {
    return MediaTypes.listsManifests(mediaType);
  }

  /** The manifest's own bytes as a blob, the way the quota store counts it. */
  public Blob blob() {
    return new Blob(digest, size);
  }
}
