package dev.quotaproxy.admin.limits;

import dev.quotaproxy.config.ByteSize;
import dev.quotaproxy.config.Limits;
import dev.quotaproxy.config.Parsers;
import dev.quotaproxy.config.ScopeLimitSettings;
import dev.quotaproxy.config.SizeOrPercent;
import dev.quotaproxy.config.SystemSettings;
import io.vertx.core.json.JsonObject;
import java.math.BigDecimal;
import java.time.Duration;

/**
 * Request bodies of the limits and system endpoints turned into values, with the configuration file's
 * parsers, so "10G" means the same in both. Every refusal is an {@link IllegalArgumentException} whose
 * message names the field and says what is accepted. Pure.
 */
public final class LimitsInput {
  /** Redis scripts compute in doubles: exact up to 2^53 bytes (8 PiB). */
  static final long MAX_BYTES = 1L << 53;
  private static final Duration MIN_WINDOW = Duration.ofMinutes(1);

  private LimitsInput() {}

  /** The scope as the OCI name grammar allows it: {@code acme}, {@code acme/team/app}. */
  public static String scope(String scope) {
    try {
      return Parsers.repositoryName().parse(scope);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("scope '" + scope + "' " + e.getMessage());
    }
  }

  /**
   * A PUT body: the limits it gives replace the scope's limits whole; a field it leaves out is unlimited
   * (the egress window 1h).
   */
  public static Limits limits(JsonObject body) {
    long hard = size(body, "storage_hard");
    long soft = -1;
    Object softValue = body.getValue("storage_soft");
    if (softValue != null) {
      SizeOrPercent parsed;
      try {
        parsed = softValue instanceof Number number
            ? new SizeOrPercent.Bytes(number.longValue())
            : SizeOrPercent.parser().parse(softValue.toString());
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("storage_soft " + e.getMessage());
      }
      if (parsed instanceof SizeOrPercent.Percent && hard == ByteSize.UNLIMITED) {
        throw new IllegalArgumentException(
            "storage_soft is a percentage of storage_hard, which is unlimited: give storage_hard too, or storage_soft as a size");
      }
      soft = checked("storage_soft", parsed.of(hard));
    }
    if (hard != ByteSize.UNLIMITED && soft > hard) {
      throw new IllegalArgumentException(
          "storage_soft must not exceed storage_hard: " + ByteSize.format(soft) + " is more than " + ByteSize.format(hard));
    }
    long egress = size(body, "egress");
    long window = Limits.UNLIMITED.egressWindowSeconds();
    String windowText = body.getString("egress_window");
    if (windowText != null) {
      try {
        window = Parsers.wholeSeconds(MIN_WINDOW).parse(windowText).toSeconds();
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("egress_window " + e.getMessage() + " (at least 1m)");
      }
    }
    long repositoriesHard = count(body, "repositories_hard");
    long repositoriesSoft = count(body, "repositories_soft");
    long manifestsHard = count(body, "manifests_hard");
    long manifestsSoft = count(body, "manifests_soft");
    for (String problem : new String[] {ScopeLimitSettings.softOverHard("repositories_soft", repositoriesSoft, repositoriesHard),
        ScopeLimitSettings.softOverHard("manifests_soft", manifestsSoft, manifestsHard)}) {
      if (problem != null) {
        throw new IllegalArgumentException(problem);
      }
    }
    return new Limits(hard, soft, egress, window, repositoriesHard, repositoriesSoft, manifestsHard, manifestsSoft);
  }

  /** A count limit: a whole number, -1 (or left out) for none. */
  private static long count(JsonObject body, String field) {
    Object value = body.getValue(field);
    if (value == null) {
      return -1;
    }
    try {
      if (value instanceof Double || value instanceof Float) {
        throw new IllegalArgumentException("must be a whole number, -1 for unlimited");
      }
      return ScopeLimitSettings.count().parse(value.toString());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(field + " " + e.getMessage());
    }
  }

  /** A PUT body of the system settings over the current ones: fields left out stay as they are. */
  public static SystemSettings system(SystemSettings current, JsonObject body) {
    long hard = body.containsKey("hard_storage") ? size(body, "hard_storage") : current.hardStorage();
    double ratio = current.writeRatio();
    if (body.containsKey("write_ratio")) {
      try {
        ratio = Parsers.percent().parse(String.valueOf(body.getValue("write_ratio")));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("write_ratio " + e.getMessage());
      }
    }
    return new SystemSettings(hard, ratio, body.getBoolean("read_only", current.readOnlyForced()),
        body.getBoolean("allow_overcommit", current.allowOvercommit()), body.getInteger("retention_days", current.retentionDays()));
  }

  /** {@code 0.95} as {@code "95%"}, the form the API accepts. */
  public static String percent(double fraction) {
    return new BigDecimal(Double.toString(fraction * 100)).stripTrailingZeros().toPlainString() + "%";
  }

  private static long size(JsonObject body, String field) {
    Object value = body.getValue(field);
    if (value == null) {
      return ByteSize.UNLIMITED;
    }
    long bytes;
    if (value instanceof Number number) {
      if (number instanceof Double || number instanceof Float || number.longValue() < -1) {
        throw new IllegalArgumentException(field + " must be a whole number of bytes, -1 for unlimited, or a size like 500M, 1G, 2TiB");
      }
      bytes = number.longValue();
    } else {
      try {
        bytes = ByteSize.parse(value.toString());
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(field + " '" + value + "' " + e.getMessage());
      }
    }
    return checked(field, bytes);
  }

  private static long checked(String field, long bytes) {
    if (bytes >= MAX_BYTES) {
      throw new IllegalArgumentException(field + " is too large: at most " + ByteSize.format(MAX_BYTES - 1));
    }
    return bytes;
  }
}
