package dev.quotaproxy.config;

/** A size given either in bytes or as a percentage of another size: a soft limit is "8G" or "80%" of the hard one. */
public sealed interface SizeOrPercent {

  /** The size this stands for, given the size a percentage is of. */
  long of(long whole);

  /** @param bytes a size as {@link ByteSize} parses it; -1 for none */
  record Bytes(long bytes) implements SizeOrPercent {
    @Override
    public long of(long whole) {
      return bytes;
    }
  }

  /** @param fraction more than 0, at most 1 */
  record Percent(double fraction) implements SizeOrPercent {
    /** Rounded to the nearest byte, so 80% of 10 GiB is exactly 8 GiB despite binary floating point. */
    @Override
    public long of(long whole) {
      return Math.round(fraction * whole);
    }
  }

  /** A trailing '%' makes a percentage; anything else is a size, so a bare "80" stays 80 bytes. */
  static ValueParser<SizeOrPercent> parser() {
    ValueParser<Double> percent = Parsers.percent();
    return text -> {
      if (text.trim().endsWith("%")) {
        return new Percent(percent.parse(text));
      }
      try {
        return new Bytes(ByteSize.parse(text));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("must be a size like 500M, 8G or 10GB (-1 for none), or a percentage like 80%");
      }
    };
  }
}
