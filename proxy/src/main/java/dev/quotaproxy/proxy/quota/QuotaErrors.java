package dev.quotaproxy.proxy.quota;

import dev.quotaproxy.config.ByteSize;
import dev.quotaproxy.proxy.route.OciError;
import dev.quotaproxy.config.SystemSettings;
import dev.quotaproxy.metering.QuotaStore.Denial;
import dev.quotaproxy.metering.QuotaStore.EgressCheck;
import dev.quotaproxy.metering.QuotaStore.ScopeState;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The one place that turns quota decisions into replies. Messages are written for a person reading
 * {@code docker push} output, which shows only the message: they name the scope, the sizes and what
 * to do. The detail carries the same numbers in bytes for programs. Pure.
 */
public final class QuotaErrors {
  /** The distribution spec carries advisory messages on successful replies in this header. */
  public static final String WARNING_HEADER = "Warning";
  /** How long a client should wait before retrying a push while the quota store is unreachable. */
  public static final long STORE_RETRY_AFTER_SECONDS = 5;

  private static final long[] UNIT_SECONDS = {86_400, 3_600, 60, 1};
  private static final String[] UNIT_NAMES = {"d", "h", "m", "s"};

  private QuotaErrors() {}

  /**
   * A reservation refused by a scope's hard storage limit: 403 {@code DENIED}. With a request of 0
   * bytes (the check at upload start) it says the scope is already full; otherwise what the push
   * would have raised it to.
   */
  public static OciError storageExceeded(Denial denial) {
    if (denial.countLimit()) {
      return countExceeded(denial);
    }
    long usage = saturatedSum(denial.used(), denial.reserved());
    long after = saturatedSum(usage, denial.requested());
    String limit = ByteSize.format(denial.hardLimit());
    String message = denial.requested() == 0
        ? "quota exceeded: " + denial.scope() + " is at " + ByteSize.format(usage) + " of its " + limit + " storage limit"
        : "quota exceeded: pushing " + ByteSize.format(denial.requested()) + " to " + denial.scope()
            + " would raise its storage to " + distinct(after, denial.hardLimit()) + ", over its " + limit + " limit";
    Map<String, Object> detail = Map.of(
        "scope", denial.scope(),
        "resource", "storage_bytes",
        "usage", usage,
        "limit", denial.hardLimit(),
        "requested", denial.requested());
    return new OciError(403, "DENIED", message, detail, 0);
  }

  /**
   * A chunked upload cut off at a scope's hard limit: 403 {@code DENIED}, saying how much of the upload
   * had arrived (not the last increment, which means nothing to the person who pushed a whole layer)
   * and where the scope stands.
   *
   * @param arrivedBytes the upload's bytes that had reached the proxy: its session's earlier chunks, this
   *                     request's forwarded bytes and the piece that did not fit
   */
  public static OciError uploadCutOff(Denial denial, long arrivedBytes) {
    if (denial.countLimit()) {
      return countExceeded(denial);
    }
    long usage = saturatedSum(denial.used(), denial.reserved());
    String message = "quota exceeded: " + denial.scope() + " is at its " + ByteSize.format(denial.hardLimit())
        + " storage limit; this upload was cut off after " + ByteSize.format(arrivedBytes) + " ("
        + denial.scope() + ": " + ByteSize.format(denial.used()) + " stored, " + ByteSize.format(denial.reserved())
        + " in uploads in progress, this one included)";
    Map<String, Object> detail = Map.of(
        "scope", denial.scope(),
        "resource", "storage_bytes",
        "usage", usage,
        "limit", denial.hardLimit(),
        "requested", denial.requested(),
        "received", arrivedBytes);
    return new OciError(403, "DENIED", message, detail, 0);
  }

  /**
   * A push refused by a scope's hard count limit (a new repository, or a manifest new to its repository):
   * 403 {@code DENIED}, naming the count, the limit and what the push would have made it. Counts of
   * pushes in flight (slots held for new repositories or manifests not committed yet) are named apart, so
   * a person who sees fewer repositories than the limit knows why.
   */
  public static OciError countExceeded(Denial denial) {
    String noun = Denial.REPOSITORIES.equals(denial.resource()) ? "repository" : "manifest";
    long after = saturatedSum(saturatedSum(denial.used(), denial.reserved()), Math.max(1, denial.requested()));
    String pending = denial.reserved() > 0 ? " and " + denial.reserved() + " more being pushed" : "";
    String where = denial.used() + denial.reserved() > denial.hardLimit() ? "over" : "at";
    String subject = denial.subject() == null ? "" : denial.subject();
    int at = subject.indexOf('@');
    String what = Denial.REPOSITORIES.equals(denial.resource())
        ? "the new repository " + subject
        : at > 0 ? "the new manifest " + subject.substring(at + 1) + " in " + subject.substring(0, at) : "a new manifest";
    String message = "quota exceeded: " + denial.scope() + " holds " + counted(denial.used(), noun) + pending + ", " + where
        + " its limit of " + denial.hardLimit() + "; " + what + " would make " + after;
    Map<String, Object> detail = Map.of(
        "scope", denial.scope(),
        "resource", denial.resource(),
        "usage", saturatedSum(denial.used(), denial.reserved()),
        "limit", denial.hardLimit(),
        "requested", Math.max(1, denial.requested()));
    return new OciError(403, "DENIED", message, detail, 0);
  }

  /** {@code 1 repository}, {@code 3 repositories}, {@code 1 manifest}, {@code 0 manifests}. */
  static String counted(long count, String noun) {
    if (count == 1) {
      return "1 " + noun;
    }
    return count + " " + (noun.endsWith("y") ? noun.substring(0, noun.length() - 1) + "ies" : noun + "s");
  }

  /**
   * A size that would print the same as the limit it exceeds ("10.0 MiB, over its 10.0 MiB limit")
   * is given in bytes beside it, so the message never contradicts itself.
   */
  private static String distinct(long bytes, long limit) {
    String formatted = ByteSize.format(bytes);
    return formatted.equals(ByteSize.format(limit)) ? formatted + " (" + bytes + " bytes)" : formatted;
  }

  /**
   * The whole registry refuses writes: 403 {@code DENIED}. Forced read-only is reported as such even
   * when usage is also over the ratio, since deleting images would not lift it.
   *
   * @param usageBytes the system usage the read-only decision compared with the write ratio
   */
  public static OciError registryReadOnly(long usageBytes, SystemSettings settings) {
    if (settings.readOnlyForced()) {
      return new OciError(403, "DENIED",
          "registry is read-only: set by an administrator; pushes are refused until that is lifted",
          Map.of("reason", "forced"), 0);
    }
    long hard = settings.hardStorage();
    String where = hard > 0
        ? "storage is at " + percent(usageBytes, hard) + " of " + ByteSize.format(hard)
            + ", at or over the " + percentOfRatio(settings.writeRatio()) + " write ratio"
        // Not read-only by usage without a registry limit; say what we know rather than fail the reply.
        : "storage is at " + ByteSize.format(usageBytes);
    Map<String, Object> detail = Map.of(
        "reason", "write_ratio",
        "resource", "storage_bytes",
        "usage", usageBytes,
        "limit", hard,
        "write_ratio", settings.writeRatio());
    return new OciError(403, "DENIED", "registry is read-only: " + where + "; delete images to free space", detail, 0);
  }

  /**
   * A pull refused by a scope's egress limit: 429 {@code TOOMANYREQUESTS}, retry when its window ends. A
   * pull that would pass the limit is refused before its body moves, so the message says so when the
   * scope itself is still under it.
   */
  public static OciError egressExceeded(EgressCheck check) {
    // Retry-After 0 would mean "now" to some clients, which would only be refused again.
    long retryAfter = Math.max(1, check.retryAfterSeconds());
    String where = check.used() >= check.limit()
        ? (check.used() > check.limit() ? "over" : "at") + " its " + ByteSize.format(check.limit()) + " limit"
        : "and pulling " + ByteSize.format(check.requested()) + " more would pass its " + ByteSize.format(check.limit()) + " limit";
    String message = "egress quota exceeded: " + check.scope() + " pulled " + ByteSize.format(check.used())
        + " in the current " + window(check.windowSeconds()) + " window, " + where + "; retry in " + duration(retryAfter);
    Map<String, Object> detail = Map.of(
        "scope", check.scope(),
        "resource", "egress_bytes",
        "usage", check.used(),
        "limit", check.limit(),
        "window_seconds", check.windowSeconds(),
        "requested", check.requested());
    return new OciError(429, "TOOMANYREQUESTS", message, detail, retryAfter);
  }

  /** The metering store cannot be asked; pushes fail closed (they could break quotas), pulls fail open. */
  public static OciError storeUnavailable() {
    return OciError.unavailable(
        "quota store unavailable: pushes are refused until it is back; pulls still work", STORE_RETRY_AFTER_SECONDS);
  }

  /** System usage is not summed over a complete list of namespaces yet (at start, or after Redis lost it). */
  public static OciError systemUsageUnknown() {
    return OciError.unavailable(
        "system usage is being rebuilt in the quota store: pushes are refused until it is known; pulls still work",
        STORE_RETRY_AFTER_SECONDS);
  }

  /**
   * The {@link #WARNING_HEADER} values for a successful push: one for every scope whose used bytes
   * exceed its soft limit, and one for every count over its soft limit, in the order given (outermost
   * first as the store returns them).
   */
  public static List<String> softLimitWarnings(List<ScopeState> scopes) {
    List<String> warnings = new ArrayList<>();
    for (ScopeState scope : scopes) {
      long soft = scope.limits().storageSoft();
      if (soft >= 0 && scope.used() > soft) {
        warnings.add(softLimitWarning(scope));
      }
      countWarning(scope.scope(), scope.counts().repositories(), scope.limits().repositoriesSoft(), scope.limits().repositoriesHard(),
          "repository").ifPresent(warnings::add);
      countWarning(scope.scope(), scope.counts().manifests(), scope.limits().manifestsSoft(), scope.limits().manifestsHard(),
          "manifest").ifPresent(warnings::add);
    }
    return warnings;
  }

  /**
   * {@code 299 - "acme holds 11 repositories, over its soft limit of 10 (hard limit 20)"}: a count over its
   * soft limit, as storage warns (over, not at).
   */
  static Optional<String> countWarning(String scope, long count, long soft, long hard, String noun) {
    if (soft < 0 || count <= soft) {
      return Optional.empty();
    }
    return Optional.of(warning(scope + " holds " + counted(count, noun) + ", over its soft limit of " + soft
        + (hard >= 0 ? " (hard limit " + hard + ")" : "")));
  }

  /**
   * {@code 299 - "acme is at 91% of its 10.0 GiB storage quota"}: the share of the hard limit, which is
   * what will refuse pushes; without a hard limit, that the soft one is passed.
   */
  public static String softLimitWarning(ScopeState scope) {
    long hard = scope.limits().storageHard();
    String text = hard > 0
        ? scope.scope() + " is at " + percent(scope.used(), hard) + " of its " + ByteSize.format(hard) + " storage quota"
        : scope.scope() + " is over its " + ByteSize.format(scope.limits().storageSoft()) + " soft storage quota";
    return warning(text);
  }

  /** A Warning header value in the distribution-spec form: code 299, no agent, the text quoted. */
  public static String warning(String text) {
    return "299 - \"" + text.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }

  /**
   * A push whose body did not come in time (its first byte, or a manifest whole): 408. Its connection is
   * closed after the answer; nothing it asked for is held.
   */
  public static OciError bodyTimeout(String message) {
    return new OciError(408, "TIMEOUT", message + "; the request is cut off", Map.of("reason", "body_timeout"), 0);
  }

  /** One client address has as many push requests in flight as it may: 429, retry when one has finished. */
  public static OciError tooManyPushes(String client, int limit) {
    return new OciError(429, "TOOMANYREQUESTS", "too many push requests in flight from " + client + ": at most " + limit
        + " at a time; retry when one has finished", Map.of("reason", "client_limit", "limit", limit), 1);
  }

  /** Manifest bodies are buffered whole, within a budget over all requests; beyond it a push waits its turn: 503. */
  public static OciError manifestBufferFull(long budgetBytes) {
    return new OciError(503, "UNAVAILABLE", "the proxy is reading as many manifests as it may hold at once ("
        + ByteSize.format(budgetBytes) + "); retry shortly", Map.of("reason", "busy"), 1);
  }

  public static OciError manifestInvalid(String message) {
    return badRequest("MANIFEST_INVALID", message);
  }

  private static OciError badRequest(String code, String message) {
    return new OciError(400, code, message, Map.of(), 0);
  }

  /** Sums of byte counts from the store are shown, never trusted to fit: a bad record must not print a negative size. */
  private static long saturatedSum(long a, long b) {
    long sum = a + b;
    return ((a ^ sum) & (b ^ sum)) < 0 ? Long.MAX_VALUE : sum;
  }

  /**
   * {@code 96%}, or {@code 95.5%} when a tenth matters. Rounded down, so a share is never shown above
   * what it is, and computed in whole numbers so 95% of a limit does not print as 94.9%.
   */
  static String percent(long part, long whole) {
    long permille = part <= Long.MAX_VALUE / 1000 ? part * 1000 / whole : (long) ((double) part / whole * 1000);
    return permilleText(permille);
  }

  /** A ratio such as 0.95 from the settings; the epsilon absorbs binary fractions like 0.95 * 1000 = 949.999... */
  static String percentOfRatio(double ratio) {
    return permilleText((long) Math.floor(ratio * 1000 + 1e-6));
  }

  private static String permilleText(long permille) {
    return permille % 10 == 0 ? permille / 10 + "%" : permille / 10 + "." + permille % 10 + "%";
  }

  /** A window length in the largest unit it is a whole number of: {@code 1d}, {@code 6h}, {@code 90m}, {@code 45s}. */
  static String window(long seconds) {
    for (int i = 0; i < UNIT_SECONDS.length; i++) {
      if (seconds >= UNIT_SECONDS[i] && seconds % UNIT_SECONDS[i] == 0) {
        return seconds / UNIT_SECONDS[i] + UNIT_NAMES[i];
      }
    }
    return seconds + "s";
  }

  /**
   * A wait in its two largest units, {@code 3h 12m}, {@code 1d 2h}, {@code 45s}; rounded up, so a client
   * that retries when told is not refused again for the seconds left out.
   */
  static String duration(long seconds) {
    int unit = largestUnit(seconds);
    if (unit == UNIT_SECONDS.length - 1) {
      return seconds + "s";
    }
    long step = UNIT_SECONDS[unit + 1];
    long rounded = (seconds + step - 1) / step * step;
    // Rounding up may carry into the larger unit (23h 59m 30s is 1d), and only ever onto its boundary.
    return twoUnits(rounded, largestUnit(rounded));
  }

  private static int largestUnit(long seconds) {
    int unit = 0;
    while (unit < UNIT_SECONDS.length - 1 && seconds < UNIT_SECONDS[unit]) {
      unit++;
    }
    return unit;
  }

  private static String twoUnits(long seconds, int unit) {
    long major = seconds / UNIT_SECONDS[unit];
    long minor = seconds % UNIT_SECONDS[unit] / UNIT_SECONDS[unit + 1];
    return minor == 0 ? major + UNIT_NAMES[unit] : major + UNIT_NAMES[unit] + " " + minor + UNIT_NAMES[unit + 1];
  }
}
