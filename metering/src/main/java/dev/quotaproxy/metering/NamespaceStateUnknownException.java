package dev.quotaproxy.metering;

/** A namespace's state in Redis is not the one the ledger knows, and could not be made so: no decision can be made on it. */
public final class NamespaceStateUnknownException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public NamespaceStateUnknownException(String namespace) {
    super("the quota state of namespace " + namespace + " is being restored", null, false, false);
  }
}
