package dev.quotaproxy.config;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Sizes as people write them. Binary multiples for {@code K M G T P} with or without {@code i}/{@code iB}
 * ({@code 1G} = {@code 1GiB} = 2^30 bytes, as registries and Docker mean them); decimal for the SI
 * spellings {@code KB MB GB TB PB}; a bare number is bytes; {@code -1} is unlimited. Formatting
 * always uses binary units with one decimal: {@code 10.0 GiB}.
 */
public final class ByteSize {
  public static final long UNLIMITED = -1;

  private static final Pattern SIZE = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([kmgtp]?)(i?)(b?)", Pattern.CASE_INSENSITIVE);
  private static final String UNITS = "KMGTP";

  private ByteSize() {}

  /** Parses a size; throws {@link IllegalArgumentException} saying what is accepted. */
  public static long parse(String text) {
    String t = text.trim();
    if (t.equals("-1")) {
      return UNLIMITED;
    }
    Matcher m = SIZE.matcher(t);
    if (!m.matches() || (!m.group(3).isEmpty() && m.group(2).isEmpty())) {
      throw new IllegalArgumentException("must be a size like 500M, 1G, 2TiB, 10GB or a number of bytes (-1 for unlimited)");
    }
    double number = Double.parseDouble(m.group(1));
    String unit = m.group(2).toUpperCase(Locale.ROOT);
    boolean decimal = !unit.isEmpty() && m.group(3).isEmpty() && !m.group(4).isEmpty();
    int power = unit.isEmpty() ? 0 : UNITS.indexOf(unit) + 1;
    double bytes = number * Math.pow(decimal ? 1000 : 1024, power);
    if (bytes > Long.MAX_VALUE) {
      throw new IllegalArgumentException("is too large");
    }
    if (unit.isEmpty() && m.group(1).contains(".")) {
      throw new IllegalArgumentException("must be a whole number of bytes");
    }
    return Math.round(bytes);
  }

  public static ValueParser<Long> parser() {
    return ByteSize::parse;
  }

  /** A size of at least {@code minBytes}; "unlimited" (-1) is refused where a real amount is needed. */
  public static ValueParser<Long> parserAtLeast(long minBytes) {
    return text -> {
      long bytes = parse(text);
      if (bytes < minBytes) {
        throw new IllegalArgumentException("must be at least " + format(minBytes));
      }
      return bytes;
    };
  }

  /** {@code 12.0 MiB}, {@code 10.4 GiB}, {@code 512 B}; {@code unlimited} for -1. */
  public static String format(long bytes) {
    if (bytes < 0) {
      return "unlimited";
    }
    if (bytes < 1024) {
      return bytes + " B";
    }
    double value = bytes;
    int unit = -1;
    while (value >= 1024 && unit < UNITS.length() - 1) {
      value /= 1024;
      unit++;
    }
    return String.format(Locale.ROOT, "%.1f %siB", value, UNITS.charAt(unit));
  }
}
