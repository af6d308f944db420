package dev.quotaproxy.proxy.quota;

import dev.quotaproxy.proxy.route.OciError;

/**
 * Why the proxy refused a request itself, as a metric label: a small fixed set, read back from the
 * replies {@link QuotaErrors} builds (the one place that builds them, so the two stay in step).
 */
public enum RefusalReason {
  /** A scope's hard storage limit: 403 {@code DENIED} naming the scope. */
  STORAGE_LIMIT,
  /** The registry is read-only, by its write ratio or by hand: 403 {@code DENIED}. */
  READ_ONLY,
  /** A scope's egress limit: 429 {@code TOOMANYREQUESTS}. */
  EGRESS_LIMIT,
  /** The metering store could not be asked and pushes fail closed: 503. */
  STORE_UNAVAILABLE,
  /**
   * A request the proxy reads and rejects before the registry sees it (a manifest it cannot parse, or
   * too large; a path, query or body the registry might read otherwise than the proxy): 400.
   */
  INVALID_REQUEST,
  /** A client over its share of the push path (requests in flight, buffered manifests): 429, or 503 when the proxy is full. */
  CLIENT_LIMIT,
  /** A client that did not send its body in time: 408. */
  SLOW_CLIENT,
  /** Any other reply the proxy made on its own. */
  OTHER;

  private final String label = name().toLowerCase(java.util.Locale.ROOT);

  public String label() {
    return label;
  }

  /** The reason behind a refusal the quota rules returned. */
  public static RefusalReason of(OciError refusal) {
    return switch (refusal.status()) {
      case 403 -> refusal.detail().containsKey("scope")
          ? STORAGE_LIMIT
          : refusal.detail().containsKey("reason") ? READ_ONLY : OTHER;
      case 429 -> "egress_bytes".equals(refusal.detail().get("resource")) ? EGRESS_LIMIT : CLIENT_LIMIT;
      case 503 -> "busy".equals(refusal.detail().get("reason")) ? CLIENT_LIMIT : STORE_UNAVAILABLE;
      case 400 -> INVALID_REQUEST;
      case 408 -> SLOW_CLIENT;
      default -> OTHER;
    };
  }
}
