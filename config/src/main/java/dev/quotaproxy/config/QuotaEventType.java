package dev.quotaproxy.config;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/**
 * The quota events a webhook can be sent (README, "Quota events"). Here, beside the settings that name them,
 * so that the configuration can check an endpoint's {@code events} and every module speaks of one set.
 */
public enum QuotaEventType {
  /** A scope's storage went from below its soft limit to at or above it. */
  QUOTA_WARNING,
  /** A push was refused by a scope's hard storage limit. */
  QUOTA_EXCEEDED,
  /** The registry turned read-only (the write ratio was reached, or read-only was forced). */
  READ_ONLY,
  /** The registry turned writable again. */
  WRITABLE,
  /** A scope's pulls were refused (429) in an egress window: at most one event per scope and window. */
  EGRESS_LIMITED;

  /** Events of the system scope: every endpoint that takes them gets them, whatever its scope prefix. */
  public boolean system() {
    return this == READ_ONLY || this == WRITABLE;
  }

  /** {@code all}, or names separated by commas, in any case. */
  static Set<QuotaEventType> parseList(String text) {
    Set<QuotaEventType> events = EnumSet.noneOf(QuotaEventType.class);
    for (String part : text.split(",")) {
      String name = part.trim().toUpperCase(Locale.ROOT);
      if (name.isEmpty()) {
        continue;
      }
      if (name.equals("ALL")) {
        events.addAll(EnumSet.allOf(QuotaEventType.class));
        continue;
      }
      try {
        events.add(QuotaEventType.valueOf(name));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("has '" + part.trim() + "', which is no quota event: give all, or some of "
            + EnumSet.allOf(QuotaEventType.class));
      }
    }
    if (events.isEmpty()) {
      throw new IllegalArgumentException("must name at least one event, or all");
    }
    return Set.copyOf(events);
  }
}
