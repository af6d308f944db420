package dev.quotaproxy.admin.limits;

import dev.quotaproxy.config.SystemSettings;

/** The system scope's read-only state as usage makes it, the same rule the proxies' guard applies. Pure. */
public final class SystemState {
  private SystemState() {}

  /** Used bytes over hard storage; null when hard storage is unlimited. */
  public static Double ratio(SystemSettings settings, long used) {
    return settings.hardStorage() > 0 ? (double) used / settings.hardStorage() : null;
  }

  /** Usage has reached the write ratio of a finite hard storage: pushes are refused until it falls below. */
  public static boolean readOnlyByUsage(SystemSettings settings, long used) {
    Double ratio = ratio(settings, used);
    return ratio != null && ratio >= settings.writeRatio();
  }
}
