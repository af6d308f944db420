package dev.quotaproxy.ledger.reports;

import java.util.Locale;

/** What a report's rows are cut by. */
public enum By {
  /** Every scope: namespaces, the scopes under them, repositories. */
  SCOPE,
  /** Repositories only: scopes the ledger knows as a repository (it linked, listed or metered one there). */
  REPOSITORY,
  /** The users traffic was attributed to; their traffic only (storage belongs to scopes, not users). */
  USER,
  /** Groups, each the sum of its scopes ({@link ScopeSet}: a member under another adds nothing). */
  GROUP;

  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** Whether its keys are scopes, one possibly under another: totals then count the outermost only. */
  boolean keysNest() {
    return this == SCOPE || this == REPOSITORY;
  }

  public boolean hasStorage() {
    return this != USER;
  }

  public static By parse(String label) {
    for (By by : values()) {
      if (by.label().equals(label)) {
        return by;
      }
    }
    throw new IllegalArgumentException("by must be scope, repository, user or group, not '" + label + "'");
  }
}
