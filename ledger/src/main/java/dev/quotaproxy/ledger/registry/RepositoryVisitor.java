package dev.quotaproxy.ledger.registry;

import io.vertx.core.Future;

/**
 * What a {@link RegistryWalker#walkCatalog catalog walk} does with each repository, in two steps: work
 * that may run for several repositories at once, then a commit that runs for one repository at a time, in
 * catalog order. Once a repository's commit has succeeded, it and every repository before it are done:
 * a caller that records the repository in its commit can resume the walk after it.
 *
 * @param <T> what preparing a repository gives its commit
 */
public interface RepositoryVisitor<T> {
  Future<T> prepare(String repository);

  Future<Void> commit(String repository, T prepared);
}
