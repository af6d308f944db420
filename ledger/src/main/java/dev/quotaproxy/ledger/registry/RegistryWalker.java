package dev.quotaproxy.ledger.registry;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Walks a registry through its API, non-blocking: the catalog page by page ({@code n} and the
 * {@code Link: <...>; rel="next"} header), each repository's tags page by page, each tag's manifest (and
 * an index's child manifests, by digest, in the same repository), and, when
 * {@link WalkerOptions#verifyBlobs()}, a HEAD of each config and layer. Never more than
 * {@link WalkerOptions#concurrency()} requests are in flight.
 *
 * <p>A {@link #walkCatalog catalog walk} prepares several repositories at once (so the requests keep
 * flowing) and commits them one at a time in catalog order, which is what makes it resumable: pass the
 * last committed repository as {@code resumeAfter} and the walk asks the catalog for the names after it
 * ({@code last=}), in the registry's own order.
 */
public final class RegistryWalker implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RegistryWalker.class);

  private final WalkerOptions options;
  private final RegistryClient client;

  /**
   * How a catalog walk ended.
   *
   * @param repositories   repositories committed by this walk
   * @param lastRepository the last one committed, null if none
   * @param complete       whether the catalog was walked to its end (false: stopped at the limit)
   */
  public record WalkResult(int repositories, String lastRepository, boolean complete) {}

  public RegistryWalker(Vertx vertx, WalkerOptions options) {
    this.options = options;
    this.client = new RegistryClient(vertx, options);
  }

  public WalkerOptions options() {
    return options;
  }

  /**
   * Every repository after {@code resumeAfter} (all when null), in catalog order: prepared up to a
   * window ahead, committed one at a time. Stops after {@code maxRepositories} commits. Fails, with the
   * repositories committed so far still committed, when the registry or the visitor fails.
   */
  public <T> Future<WalkResult> walkCatalog(String resumeAfter, int maxRepositories, RepositoryVisitor<T> visitor) {
    return page(RegistryPaths.catalog(options.pageSize(), resumeAfter),
        new Progress<>(visitor, maxRepositories, window(), resumeAfter));
  }

  /** Every repository's inventory, after {@code resumeAfter}, handed to {@code consumer} one at a time in catalog order. */
  public Future<WalkResult> walk(String resumeAfter, Function<RepositoryInventory, Future<Void>> consumer) {
    return walkCatalog(resumeAfter, Integer.MAX_VALUE, new RepositoryVisitor<RepositoryInventory>() {
      @Override
      public Future<RepositoryInventory> prepare(String repository) {
        return walkRepository(repository);
      }

      @Override
      public Future<Void> commit(String repository, RepositoryInventory inventory) {
        return consumer.apply(inventory);
      }
    });
  }

  /** Every repository name the catalog lists, in its order. */
  public Future<List<String>> catalog() {
    List<String> names = new ArrayList<>();
    return names(RegistryPaths.catalog(options.pageSize(), null), names).map(ignored -> names);
  }

  /** What the registry holds for one repository through its tags. A repository without tags (or unknown) holds nothing. */
  public Future<RepositoryInventory> walkRepository(String repository) {
    if (!RegistryPaths.isSafeName(repository)) {
      return notAName(repository);
    }
    InventoryWalk walk = new InventoryWalk(client, repository, options.verifyBlobs());
    List<String> tags = new ArrayList<>();
    return tags(RegistryPaths.tags(repository, options.pageSize()), tags)
        .compose(ignored -> walk.tags(tags))
        .map(ignored -> walk.result());
  }

  /**
   * The given manifests of a repository, fetched by digest, and what they reference; those the registry
   * does not hold are {@link RepositoryInventory#missing() missing}. For manifests no tag reaches any more.
   */
  public Future<RepositoryInventory> walkManifests(String repository, Collection<String> digests) {
    if (!RegistryPaths.isSafeName(repository)) {
      return notAName(repository);
    }
    InventoryWalk walk = new InventoryWalk(client, repository, options.verifyBlobs());
    return walk.manifests(digests).map(ignored -> walk.result());
  }

  /** Whether the repository holds the blob ({@code HEAD /v2/<name>/blobs/<digest>} answers 200, not 404). */
  public Future<Boolean> blobExists(String repository, String digest) {
    if (!RegistryPaths.isSafeName(repository)) {
      return notAName(repository);
    }
    if (!RegistryPaths.isSafeDigest(digest)) {
      return Future.failedFuture(new IllegalArgumentException("not a digest: " + digest));
    }
    return new InventoryWalk(client, repository, true).size(digest, 0).map(size -> size >= 0);
  }

  /** Closes the walker's connections (without waiting for them to close). */
  @Override
  public void close() {
    client.close();
  }

  private static <T> Future<T> notAName(String repository) {
    return Future.failedFuture(new IllegalArgumentException("not a repository name: " + repository));
  }

  /** Repositories prepared ahead of the one committing: enough for their requests to fill the limit. */
  private int window() {
    return Math.max(4, options.concurrency() * 2);
  }

  private Future<Void> names(String path, List<String> into) {
    return client.get(path, "application/json").compose(answer -> {
      if (answer.status() != 200) {
        // A registry without a catalog (or behind auth) cannot be walked: fail, never read as empty.
        return Future.failedFuture(RegistryClient.unexpected("GET", path, answer));
      }
      into.addAll(strings(RegistryClient.json(answer, path), "repositories"));
      String next = client.nextPage(answer, path);
      return next == null ? Future.succeededFuture() : names(next, into);
    });
  }

  private Future<Void> tags(String path, List<String> into) {
    return client.get(path, "application/json").compose(answer -> {
      if (answer.status() == 404) {
        // Distribution lists a repository holding only uploaded blobs, and answers NAME_UNKNOWN for its tags.
        return Future.succeededFuture();
      }
      if (answer.status() != 200) {
        return Future.failedFuture(RegistryClient.unexpected("GET", path, answer));
      }
      into.addAll(strings(RegistryClient.json(answer, path), "tags"));
      String next = client.nextPage(answer, path);
      return next == null ? Future.succeededFuture() : tags(next, into);
    });
  }

  private <T> Future<WalkResult> page(String path, Progress<T> progress) {
    return client.get(path, "application/json").compose(answer -> {
      if (answer.status() != 200) {
        return Future.failedFuture(RegistryClient.unexpected("GET", path, answer));
      }
      List<String> names = new ArrayList<>();
      for (String name : strings(RegistryClient.json(answer, path), "repositories")) {
        if (RegistryPaths.isSafeName(name)) {
          names.add(name);
        } else {
          LOG.warn("catalog lists '{}', which cannot be put in a request path; skipped", name);
        }
      }
      String next = client.nextPage(answer, path);
      int room = progress.maxRepositories - progress.committed;
      List<String> taken = names.size() > room ? names.subList(0, room) : names;
      return progress.commitInOrder(taken).compose(ignored -> {
        boolean endOfCatalog = next == null && taken.size() == names.size();
        if (endOfCatalog || progress.committed >= progress.maxRepositories) {
          return Future.succeededFuture(new WalkResult(progress.committed, progress.last, endOfCatalog));
        }
        return page(next, progress);
      });
    });
  }

  private static List<String> strings(JsonObject object, String field) {
    // {"tags": null} is how distribution lists a repository whose tags were all deleted.
    JsonArray array = object.getValue(field) instanceof JsonArray values ? values : new JsonArray();
    List<String> strings = new ArrayList<>(array.size());
    for (Object value : array) {
      if (value instanceof String text) {
        strings.add(text);
      }
    }
    return strings;
  }

  /** One catalog walk's state: how many committed, and the last. Touched by one commit at a time. */
  private final class Progress<T> {
    final RepositoryVisitor<T> visitor;
    final int maxRepositories;
    final int window;
    volatile int committed;
    volatile String last;

    Progress(RepositoryVisitor<T> visitor, int maxRepositories, int window, String resumeAfter) {
      this.visitor = visitor;
      this.maxRepositories = maxRepositories;
      this.window = window;
      this.last = resumeAfter;
    }

    /**
     * Prepares {@code window} repositories ahead and commits them in order: repository i commits only
     * after i-1 did, and its commit starts the preparation of repository i+window.
     */
    Future<Void> commitInOrder(List<String> names) {
      List<Future<T>> prepared = new ArrayList<>(names.size());
      for (int i = 0; i < names.size(); i++) {
        prepared.add(null);
      }
      for (int i = 0; i < Math.min(window, names.size()); i++) {
        prepared.set(i, prepare(names.get(i)));
      }
      return commitFrom(0, names, prepared);
    }

    private Future<Void> commitFrom(int i, List<String> names, List<Future<T>> prepared) {
      if (i == names.size()) {
        return Future.succeededFuture();
      }
      String repository = names.get(i);
      return prepared.get(i)
          .compose(result -> safely(() -> visitor.commit(repository, result)))
          .compose(ignored -> {
            committed++;
            last = repository;
            prepared.set(i, null); // let it go: a page may hold a thousand
            int ahead = i + window;
            if (ahead < names.size()) {
              prepared.set(ahead, prepare(names.get(ahead)));
            }
            return commitFrom(i + 1, names, prepared);
          });
    }

    private Future<T> prepare(String repository) {
      return safely(() -> visitor.prepare(repository));
    }
  }

  private static <T> Future<T> safely(Supplier<Future<T>> step) {
    try {
      return step.get();
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
  }
}
