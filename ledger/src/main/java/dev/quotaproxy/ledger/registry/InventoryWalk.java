package dev.quotaproxy.ledger.registry;

import dev.quotaproxy.ledger.registry.ManifestReader.Contents;
import dev.quotaproxy.ledger.registry.ManifestReader.Descriptor;
import dev.quotaproxy.ledger.registry.RegistryClient.Answer;
import dev.quotaproxy.ledger.registry.RepositoryInventory.Manifest;
import io.vertx.core.Future;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One repository's inventory being gathered: manifests fetched (by tag, or by digest for the children of
 * an index), then what they reference, each digest asked for once. The requests of one repository run
 * concurrently, within the client's limit, and their callbacks may land on any event loop: the maps are
 * concurrent.
 */
final class InventoryWalk {
  private static final Logger LOG = LoggerFactory.getLogger(InventoryWalk.class);

  private final RegistryClient client;
  private final String repository;
  private final boolean verifyBlobs;
  private final Map<String, Manifest> manifests = new ConcurrentHashMap<>();
  private final Map<String, Long> blobs = new ConcurrentHashMap<>();
  private final Set<String> missing = ConcurrentHashMap.newKeySet();
  /** Digests already asked for (or being asked for), manifests and blobs alike. */
  private final Set<String> requested = ConcurrentHashMap.newKeySet();

  InventoryWalk(RegistryClient client, String repository, boolean verifyBlobs) {
    this.client = client;
    this.repository = repository;
    this.verifyBlobs = verifyBlobs;
  }

  /** Every manifest the given tags point at, and everything they reference. */
  Future<Void> tags(Collection<String> tags) {
    List<Future<Void>> walks = new ArrayList<>();
    for (String tag : tags) {
      if (RegistryPaths.isSafeTag(tag)) {
        walks.add(manifest(tag, null));
      } else {
        LOG.warn("{}: tag '{}' cannot be put in a request path; skipped", repository, tag);
      }
    }
    return Future.all(walks).mapEmpty();
  }

  /** The given manifests by digest (those the registry does not hold become missing), and what they reference. */
  Future<Void> manifests(Collection<String> digests) {
    List<Future<Void>> walks = new ArrayList<>();
    for (String digest : digests) {
      if (RegistryPaths.isSafeDigest(digest) && requested.add(digest)) {
        walks.add(manifest(digest, digest));
      }
    }
    return Future.all(walks).mapEmpty();
  }

  RepositoryInventory result() {
    Set<String> absent = new HashSet<>(missing);
    absent.removeAll(blobs.keySet());
    return new RepositoryInventory(repository, blobs, manifests, absent);
  }

  /**
   * @param reference a tag or a digest
   * @param digest    the digest when fetched by digest (an index's child), else null: the registry names it
   */
  private Future<Void> manifest(String reference, String digest) {
    String path = RegistryPaths.manifest(repository, reference);
    return client.get(path, ManifestReader.ACCEPT).compose(answer -> {
      if (answer.status() == 404) {
        // A tag deleted since the list, or a child manifest the registry never had.
        if (digest != null) {
          missing.add(digest);
        }
        return Future.succeededFuture();
      }
      if (answer.status() != 200) {
        return Future.failedFuture(RegistryClient.unexpected("GET", path, answer));
      }
      return received(digest != null ? digest : digestOf(answer), answer);
    });
  }

  private Future<Void> received(String digest, Answer answer) {
    Contents contents = ManifestReader.read(answer.header("Content-Type"), answer.body(), repository + "@" + digest);
    List<String> references = new ArrayList<>();
    contents.blobs().forEach(blob -> references.add(blob.digest()));
    contents.manifests().forEach(child -> references.add(child.digest()));
    Manifest manifest = new Manifest(digest, contents.mediaType(), answer.body().length(), references);
    if (manifests.putIfAbsent(digest, manifest) != null) {
      return Future.succeededFuture(); // another tag of the same manifest got here first
    }
    requested.add(digest);
    blobs.put(digest, manifest.size());

    List<Future<Void>> next = new ArrayList<>();
    for (Descriptor child : contents.manifests()) {
      if (requested.add(child.digest())) {
        next.add(manifest(child.digest(), child.digest()));
      }
    }
    for (Descriptor blob : contents.blobs()) {
      if (requested.add(blob.digest())) {
        next.add(blob(blob));
      }
    }
    return Future.all(next).mapEmpty();
  }

  private Future<Void> blob(Descriptor blob) {
    if (!verifyBlobs) {
      blobs.put(blob.digest(), blob.size());
      return Future.succeededFuture();
    }
    // The registry's length is the truth; the descriptor's size is what the manifest claims.
    return size(blob.digest(), blob.size()).map(size -> {
      if (size < 0) {
        missing.add(blob.digest());
      } else {
        blobs.put(blob.digest(), size);
      }
      return null;
    });
  }

  /**
   * The blob's size when the repository holds it (its Content-Length, else {@code unstated}), -1 when the
   * registry answers 404.
   */
  Future<Long> size(String digest, long unstated) {
    String path = RegistryPaths.blob(repository, digest);
    return client.head(path).map(answer -> {
      if (answer.status() == 404) {
        return -1L;
      }
      if (answer.status() != 200) {
        throw RegistryClient.unexpected("HEAD", path, answer);
      }
      String length = answer.header("Content-Length");
      try {
        return length == null ? unstated : Long.parseLong(length.trim());
      } catch (NumberFormatException e) {
        return unstated;
      }
    });
  }

  /** The registry's Docker-Content-Digest, or the sha256 of the body as served. */
  private static String digestOf(Answer answer) {
    String header = answer.header("Docker-Content-Digest");
    if (header != null && RegistryPaths.isSafeDigest(header.trim())) {
      return header.trim();
    }
    try {
      byte[] hash = MessageDigest.getInstance("SHA-256").digest(answer.body().getBytes());
      return "sha256:" + HexFormat.of().formatHex(hash);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
  }
}
