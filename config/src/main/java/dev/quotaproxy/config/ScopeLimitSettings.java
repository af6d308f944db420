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

  public static final Setting<Long> REPOSITORIES_HARD = Setting.withDefault("repositories-hard", "COUNT",
      "Repositories holding a blob or manifest the scope may have; a push that would create one more is refused. -1: unlimited.",
      "-1", count());
  public static final Setting<Long> REPOSITORIES_SOFT = Setting.withDefault("repositories-soft", "COUNT",
      "Repositories past which the scope is warned about, never refused. At most repositories-hard. -1: none.", "-1", count());
  public static final Setting<Long> MANIFESTS_HARD = Setting.withDefault("manifests-hard", "COUNT",
      "Manifests the repositories under the scope may hold; a push of one more is refused. -1: unlimited.", "-1", count());
  public static final Setting<Long> MANIFESTS_SOFT = Setting.withDefault("manifests-soft", "COUNT",
      "Manifests past which the scope is warned about, never refused. At most manifests-hard. -1: none.", "-1", count());

  public static final List<Setting<?>> FIELDS = List.of(STORAGE_HARD, STORAGE_SOFT, EGRESS, EGRESS_WINDOW, REPOSITORIES_HARD,
      REPOSITORIES_SOFT, MANIFESTS_HARD, MANIFESTS_SOFT);

  /** Counts are compared in Redis scripts, in doubles: exact below 2^53. */
  static final long MAX_COUNT = (1L << 53) - 1;

  /** A whole number of repositories or manifests, -1 for none. */
  public static ValueParser<Long> count() {
    return text -> {
      long value;
      try {
        value = Long.parseLong(text.trim());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("must be a whole number, -1 for unlimited");
      }
      if (value < -1 || value > MAX_COUNT) {
        throw new IllegalArgumentException("must be -1 (unlimited) or 0 to " + MAX_COUNT);
      }
      return value;
    };
  }

  /** Why a soft count limit does not fit its hard one ({@code what} names the soft one), or null when it does. */
  public static String softOverHard(String what, long soft, long hard) {
    return hard >= 0 && soft > hard ? what + " must not exceed the hard limit: " + soft + " is more than " + hard : null;
  }

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
    for (String problem : new String[] {
        softOverHard(setting.keyOf(scope, REPOSITORIES_SOFT) + " (from " + entry.sourceOf(REPOSITORIES_SOFT) + ")",
            entry.get(REPOSITORIES_SOFT), entry.get(REPOSITORIES_HARD)),
        softOverHard(setting.keyOf(scope, MANIFESTS_SOFT) + " (from " + entry.sourceOf(MANIFESTS_SOFT) + ")", entry.get(MANIFESTS_SOFT),
            entry.get(MANIFESTS_HARD))}) {
      if (problem != null) {
        problems.add(problem);
        return Optional.empty();
      }
    }
    return Optional.of(new Limits(hard, softBytes, entry.get(EGRESS), entry.get(EGRESS_WINDOW).toSeconds())
        .withCounts(entry.get(REPOSITORIES_HARD), entry.get(REPOSITORIES_SOFT), entry.get(MANIFESTS_HARD), entry.get(MANIFESTS_SOFT)));
  }
}
