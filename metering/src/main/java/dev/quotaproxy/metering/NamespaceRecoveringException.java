package dev.quotaproxy.metering;

/** The namespace was restored a moment ago and its proxies are re-creating reservations Redis lost: ask again shortly. */
public final class NamespaceRecoveringException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public NamespaceRecoveringException(String namespace) {
    super("namespace " + namespace + " was just restored; its reservations in flight are being re-created", null, false, false);
  }
}
