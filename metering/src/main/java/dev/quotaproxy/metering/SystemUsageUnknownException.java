package dev.quotaproxy.metering;

/** System usage cannot be summed now: Redis lost what it is made of, and the rebuild has not finished. */
public final class SystemUsageUnknownException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public SystemUsageUnknownException(String why) {
    super("system usage is not known: " + why, null, false, false);
  }
}
