package dev.quotaproxy.ledger;

import dev.quotaproxy.oci.Scopes;
import dev.quotaproxy.ledger.ReconciliationStore.Run;
import dev.quotaproxy.ledger.registry.RegistryWalker;
import dev.quotaproxy.ledger.registry.RegistryWalker.WalkResult;
import dev.quotaproxy.ledger.registry.RepositoryInventory;
import dev.quotaproxy.ledger.registry.RepositoryVisitor;
import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes the ledger agree with the registry it describes, by walking the registry's API.
 *
 * <p>For each repository of the catalog, the ledger's links, manifests and references are compared with
 * what the registry holds through the repository's tags ({@link RepositoryDiff} has the rules for what
 * only the ledger knows): what the ledger lacks (pushed around the proxy, or before it existed) is added,
 * what the registry no longer holds is dropped. Each repository commits in its own transaction together
 * with the run's progress, so a run that is killed, stopped at a limit or failed resumes after its last
 * committed repository, under the same {@code reconciliations} row, and ends with the same totals.
 *
 * <p>Once the whole catalog is walked, repositories the ledger knows but the catalog no longer lists are
 * dropped, and every scope's usage is recomputed from the links: the usage of a scope is the total size
 * of the distinct digests linked to the repositories at or under it. Where that differs from what the
 * ledger held, the difference is recorded as drift ({@code expected}: the ledger's usage before,
 * {@code found}: the recomputed usage, which replaces it).
 *
 * <p>A backfill is the same walk under its own kind: into an empty ledger it adds everything, into a
 * partial one it adds what is missing. Blobs uploaded but referenced by no manifest cannot be listed
 * through the API, so a backfill does not find them; a reconciliation keeps those the ledger already has
 * while the registry still holds them.
 *
 * <p>Pushes and deletes may go on during a run, and their events reach the ledger after the registry
 * answered: the walk must never undo them. Each repository's ledger record is read before the registry
 * is asked about it; at the commit, digests whose record events changed since that read are left as
 * they are; and the namespaces it changed recount their usage from the links while events written
 * before the change are still arriving ({@code namespace_recounts}), so a charge or a free it made
 * already is not made twice.
 *
 * <p>One run at a time (a Postgres advisory lock). Non-blocking; the returned future completes when the
 * run does.
 */
public final class Reconciler {
  private static final Logger LOG = LoggerFactory.getLogger(Reconciler.class);

  private final ReconciliationStore store;
  private final RegistryWalker walker;
  private final Function<String, Future<Void>> beforeCommit;

  /** The {@code kind} of a {@code reconciliations} row; runs of one kind resume each other. */
  public enum Kind {
    REGISTRY("registry"), BACKFILL("backfill");

    private final String label;

    Kind(String label) {
      this.label = label;
    }

    public String label() {
      return label;
    }
  }

  /**
   * @param reconciliationId  the {@code reconciliations} row
   * @param complete          the whole catalog was walked, usage recomputed and the run marked done;
   *                          false when it stopped at {@code maxRepositories} (run it again to go on)
   * @param walked            repositories this call committed
   * @param walkedInTotal     repositories the run committed, over all its attempts
   * @param drift             scopes whose usage changed (empty unless complete)
   * @param changedNamespaces namespaces whose links, manifests or references the run changed (over all its
   *                          attempts) or whose usage drifted: Redis should be refreshed for them
   */
  public record Report(long reconciliationId, Kind kind, boolean complete, int walked, int walkedInTotal,
      List<Drift> drift, Set<String> changedNamespaces) {
    public Report {
      drift = List.copyOf(drift);
      changedNamespaces = Set.copyOf(changedNamespaces);
    }
  }

  public Reconciler(Pool pool, RegistryWalker walker) {
    this(pool, walker, repository -> Future.succeededFuture());
  }

  /** With {@code beforeCommit} run between a repository's diff and its commit: for tests, to change the ledger there. */
  Reconciler(Pool pool, RegistryWalker walker, Function<String, Future<Void>> beforeCommit) {
    this.store = new ReconciliationStore(pool);
    this.walker = walker;
    this.beforeCommit = beforeCommit;
  }

  /** Reconciles the ledger with the registry (kind {@code registry}), resuming an unfinished reconciliation. */
  public Future<Report> reconcile() {
    return run(Kind.REGISTRY, Integer.MAX_VALUE);
  }

  /** Fills the ledger from the registry (kind {@code backfill}), resuming an unfinished backfill. */
  public Future<Report> backfill() {
    return run(Kind.BACKFILL, Integer.MAX_VALUE);
  }

  /**
   * Runs, or resumes, a run of this kind, and stops after {@code maxRepositories} repositories: a
   * stopped run is resumed by the next call, and completes once a call reaches the catalog's end.
   */
  public Future<Report> run(Kind kind, int maxRepositories) {
    return store.lock().compose(lock -> store.startOrResume(kind.label())
        .compose(run -> walk(run, kind, maxRepositories)
            .recover(failure -> {
              LOG.warn("{} run {} failed after repository '{}'; the next run resumes it: {}",
                  kind.label(), run.id(), run.resumeAfter(), failure.getMessage());
              return store.fail(run, failure).transform(ignored -> Future.failedFuture(failure));
            }))
        .eventually(() -> store.unlock(lock)));
  }

  private Future<Report> walk(Run run, Kind kind, int maxRepositories) {
    if (run.resumeAfter() != null) {
      LOG.info("{} run {} resumes after repository '{}'", kind.label(), run.id(), run.resumeAfter());
    }
    return walker.walkCatalog(run.resumeAfter(), maxRepositories, visitor(run, kind))
        .compose(walk -> walk.complete() ? finish(run, kind, walk) : stop(run, kind, walk));
  }

  /** A repository's diff, with the read of the ledger it was made from. */
  private record Prepared(LedgerRepository ledger, RepositoryDiff diff) {}

  private RepositoryVisitor<Prepared> visitor(Run run, Kind kind) {
    return new RepositoryVisitor<>() {
      @Override
      public Future<Prepared> prepare(String repository) {
        return diff(repository);
      }

      @Override
      public Future<Void> commit(String repository, Prepared prepared) {
        return beforeCommit.apply(repository)
            .compose(ignored -> store.commit(run, prepared.ledger(), prepared.diff(), kind.label()));
      }
    };
  }

  /**
   * Reads the ledger's record of one repository, then walks the repository in the registry, and settles
   * what only the ledger knows, with the requests that takes. The ledger first: whatever the registry
   * holds that the read missed is then newer than the read, and is added, never dropped; what events
   * change after the read is left to them at the commit.
   */
  private Future<Prepared> diff(String repository) {
    return store.repository(repository).compose(ledger -> walker.walkRepository(repository).compose(tagged -> {
      Set<String> untagged = RepositoryDiff.manifestsToCheck(ledger, tagged);
      Future<RepositoryInventory> inventory = untagged.isEmpty()
          ? Future.succeededFuture(tagged)
          : walker.walkManifests(repository, untagged).map(tagged::merge);
      return inventory.compose(held -> storedUploads(ledger, held)
          .map(stored -> new Prepared(ledger, RepositoryDiff.between(ledger, held, stored))));
    }));
  }

  /** Of the uploads no manifest referenced, those the registry still holds (HEAD 200). */
  private Future<Set<String>> storedUploads(LedgerRepository ledger, RepositoryInventory inventory) {
    List<String> uploads = new ArrayList<>(RepositoryDiff.uploadsToCheck(ledger, inventory));
    List<Future<Boolean>> heads = new ArrayList<>();
    for (String digest : uploads) {
      heads.add(walker.blobExists(ledger.repository(), digest)
          // A digest that cannot be put in a request cannot be checked: keep it rather than guess.
          .recover(e -> e instanceof IllegalArgumentException ? Future.succeededFuture(true) : Future.failedFuture(e)));
    }
    return Future.all(heads).map(answers -> {
      Set<String> stored = new HashSet<>();
      for (int i = 0; i < uploads.size(); i++) {
        if (answers.<Boolean>resultAt(i)) {
          stored.add(uploads.get(i));
        }
      }
      return stored;
    });
  }

  private Future<Report> stop(Run run, Kind kind, WalkResult walk) {
    LOG.info("{} run {} stopped after {} repositories, at '{}'", kind.label(), run.id(), walk.repositories(),
        walk.lastRepository());
    return store.stop(run).compose(ignored -> store.changedNamespaces(run))
        .map(namespaces -> new Report(run.id(), kind, false, walk.repositories(),
            run.repositories() + walk.repositories(), List.of(), namespaces));
  }

  private Future<Report> finish(Run run, Kind kind, WalkResult walk) {
    return dropVanished(run)
        .compose(ignored -> store.finish(run))
        .compose(drift -> store.changedNamespaces(run).map(namespaces -> {
          Set<String> changed = new TreeSet<>(namespaces);
          drift.forEach(scope -> changed.add(Scopes.namespace(scope.scope())));
          LOG.info("{} run {} done: {} repositories, {} scopes corrected, namespaces changed: {}", kind.label(),
              run.id(), run.repositories() + walk.repositories(), drift.size(), changed);
          return new Report(run.id(), kind, true, walk.repositories(), run.repositories() + walk.repositories(),
              drift, changed);
        }));
  }

  /**
   * Repositories the ledger knows that a full catalog listing, taken after the walk, no longer names:
   * treated as deleted, without asking per blob (distribution answers a blob HEAD through the
   * repository's own links, which went with it). A catalog that cannot be listed fails the run instead.
   *
   * <p>Each is read from the ledger and the catalog listed once more after that, so a repository pushed
   * meanwhile is listed; what events change after the read stays (see {@link ReconciliationStore#dropRepository}).
   */
  private Future<Void> dropVanished(Run run) {
    return store.repositories().compose(known -> walker.catalog().compose(catalog -> {
      Set<String> listed = new HashSet<>(catalog);
      List<String> candidates = known.stream().filter(name -> !listed.contains(name)).sorted().toList();
      if (candidates.isEmpty()) {
        return Future.succeededFuture();
      }
      List<Future<LedgerRepository>> reads = candidates.stream().map(store::repository).toList();
      return Future.all(reads).compose(read -> walker.catalog()).compose(listedAgain -> {
        Set<String> still = new HashSet<>(listedAgain);
        Future<Void> done = Future.succeededFuture();
        for (Future<LedgerRepository> ledger : reads) {
          String repository = ledger.result().repository();
          if (still.contains(repository)) {
            continue;
          }
          done = done.compose(ignored -> {
            LOG.info("repository '{}' is no longer in the registry's catalog; dropping its ledger links", repository);
            return store.dropRepository(run, ledger.result());
          });
        }
        return done;
      });
    }));
  }
}
