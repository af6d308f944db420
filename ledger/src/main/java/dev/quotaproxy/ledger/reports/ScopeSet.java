package dev.quotaproxy.ledger.reports;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.TreeSet;

/**
 * A set of scopes given by its roots: each root stands for itself and every scope under it
 * ({@code acme} covers {@code acme/team/app}, not {@code acmecorp}). Reports select rows with it (a
 * {@code scope=} filter, a group, a viewer's grants) and add up a group's usage over its roots only,
 * so that nothing is counted twice. Pure.
 *
 * <p>The roll-up rule: a member under another member of the same set adds nothing, its usage is
 * already in its ancestor's ({@code {acme, acme/team}} is {@code {acme}}).
 */
public final class ScopeSet {
  private final List<String> roots;

  private ScopeSet(List<String> roots) {
    this.roots = roots;
  }

  /** The set covered by {@code scopes}, members under another member dropped, sorted. */
  public static ScopeSet of(Collection<String> scopes) {
    TreeSet<String> sorted = new TreeSet<>(scopes);
    List<String> roots = new ArrayList<>();
    // Sorted, an ancestor comes before everything under it; but "acme/team-x" sorts between "acme/team"
    // and "acme/team/app", so each candidate is checked against every root kept, not only the last.
    for (String scope : sorted) {
      if (roots.stream().noneMatch(root -> covers(root, scope))) {
        roots.add(scope);
      }
    }
    return new ScopeSet(List.copyOf(roots));
  }

  /** The roots, sorted, none under another. */
  public List<String> roots() {
    return roots;
  }

  public boolean isEmpty() {
    return roots.isEmpty();
  }

  /** Whether {@code scope} is a root or under one. */
  public boolean contains(String scope) {
    return roots.stream().anyMatch(root -> covers(root, scope));
  }

  /** The scopes in both sets: a root of one under (or equal to) a root of the other. */
  public ScopeSet intersect(ScopeSet other) {
    List<String> both = new ArrayList<>();
    for (String root : roots) {
      if (other.contains(root)) {
        both.add(root);
      }
    }
    for (String root : other.roots) {
      if (contains(root)) {
        both.add(root);
      }
    }
    return of(both);
  }

  /** Whether {@code scope} is {@code root} or under it. */
  public static boolean covers(String root, String scope) {
    return scope.equals(root) || (scope.length() > root.length() && scope.startsWith(root) && scope.charAt(root.length()) == '/');
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof ScopeSet set && set.roots.equals(roots);
  }

  @Override
  public int hashCode() {
    return roots.hashCode();
  }

  @Override
  public String toString() {
    return roots.toString();
  }
}
