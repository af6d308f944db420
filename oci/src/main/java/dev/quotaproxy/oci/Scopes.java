package dev.quotaproxy.oci;

import java.util.ArrayList;
import java.util.List;

/**
 * The scopes a repository belongs to, outermost first: {@code acme/team/app} is in {@code acme},
 * {@code acme/team} and {@code acme/team/app} (and in the system scope, kept apart because it spans
 * namespaces). Pure.
 */
public final class Scopes {
  private Scopes() {}

  /** {@code acme/team/app} gives [acme, acme/team, acme/team/app]. */
  public static List<String> of(String repository) {
    List<String> scopes = new ArrayList<>();
    int slash = repository.indexOf('/');
    while (slash >= 0) {
      scopes.add(repository.substring(0, slash));
      slash = repository.indexOf('/', slash + 1);
    }
    scopes.add(repository);
    return scopes;
  }

  /** The top-level namespace, the unit that shares one Redis hash slot: {@code acme} for {@code acme/team/app}. */
  public static String namespace(String repositoryOrScope) {
    int slash = repositoryOrScope.indexOf('/');
    return slash < 0 ? repositoryOrScope : repositoryOrScope.substring(0, slash);
  }
}
