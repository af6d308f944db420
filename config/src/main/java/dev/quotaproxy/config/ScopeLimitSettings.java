package dev.quotaproxy.config;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * The settings of one scope's limits in the file ({@code quota.scopes.<scope>.*}), and the {@link Limits}
 * they resolve to: the soft limit in bytes, the egress window in seconds. -1 is unlimited.
 */
public final class ScopeLimitSettings {
  public static final Setting<Long> STORAGE_HARD = Setting.withDefault("storage-hard", "SIZE",
      "Bytes the scope may hold: the distinct blobs and manifests of every repository under it. A push beyond it is refused. -1: unlimited.",
      "-1", ByteSize.parser());
  public static final Setting<SizeOrPercent> STORAGE_SOFT = Setting.withDefault("storage-soft", "SIZE|PERCENT",
      "Usage past which the scope is warned about, never refused: a size, or a percentage of storage-hard like 80%. At most storage-hard. -1: none.",
      "-1", SizeOrPercent.parser());
  public static final Setting<Long> EGRESS = Setting.withDefault("egress", "SIZE",
      "Bytes the scope's pulls may download per egress-window; beyond it pulls are refused until the window ends. -1: unlimited.",
      "-1", ByteSize.parser());
  public static final Setting<Duration> EGRESS_WINDOW = Setting.withDefault("egress-window", "DURATION",
      "Length of the window egress is counted in, aligned to the epoch (1d windows start at 00:00 UTC). At least 1m.",
      "1h", Parsers.wholeSeconds(Duration.ofMinutes(1)));

  public static final List<Setting<?>> FIELDS = List.of(STORAGE_HARD, STORAGE_SOFT, EGRESS, EGRESS_WINDOW);

  private ScopeLimitSettings() {}

  /** Checks the fields against each other; adds a problem and gives nothing when they disagree. */
  static Optional<Limits> from(MapSetting setting, String scope, Settings entry, List<String> problems) {
    long hard = entry.get(STORAGE_HARD);
    SizeOrPercent soft = entry.get(STORAGE_SOFT);
    String softKey = setting.keyOf(scope, STORAGE_SOFT) + " (from " + entry.sourceOf(STORAGE_SOFT) + ")";
    if (soft instanceof SizeOrPercent.Percent && hard == ByteSize.UNLIMITED) {
      problems.add(softKey + " is a percentage of storage-hard, which is unlimited: set storage-hard too, or give storage-soft as a size");
      return Optional.empty();
    }
    long softBytes = soft.of(hard);
    if (hard != ByteSize.UNLIMITED && softBytes > hard) {
      problems.add(softKey + " must not exceed storage-hard: " + ByteSize.format(softBytes) + " is more than " + ByteSize.format(hard));
      return Optional.empty();
    }
    return Optional.of(new Limits(hard, softBytes, entry.get(EGRESS), entry.get(EGRESS_WINDOW).toSeconds()));
  }
}
