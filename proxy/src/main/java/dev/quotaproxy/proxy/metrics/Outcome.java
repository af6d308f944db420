package dev.quotaproxy.proxy.metrics;

import java.util.Locale;

/**
 * How an exchange ended, as a metric label: the access log's free-text outcome ("aborted: client
 * closed the connection") folded into a fixed set, so the label's values stay few.
 */
public enum Outcome {
  /** The registry's answer was relayed whole. */
  OK,
  /** The proxy refused the request itself (a quota, or a request it rejects before the registry). */
  REFUSED,
  /** The registry could not be reached or broke off before answering (502, 503 for a full pool). */
  UPSTREAM_ERROR,
  /** The registry did not answer in time (504). */
  UPSTREAM_TIMEOUT,
  /** The exchange broke off part-way: a client that left, a stalled or failed transfer. */
  ABORTED;

  private final String label = name().toLowerCase(Locale.ROOT);

  public String label() {
    return label;
  }

  /** The category of an access-log outcome; anything not recognised counts as aborted. */
  public static Outcome of(String outcome) {
    if (outcome.equals("ok")) {
      return OK;
    }
    if (outcome.startsWith("refused")) {
      return REFUSED;
    }
    if (outcome.startsWith("upstream timeout")) {
      return UPSTREAM_TIMEOUT;
    }
    if (outcome.startsWith("upstream")) {
      return UPSTREAM_ERROR;
    }
    return ABORTED;
  }
}
