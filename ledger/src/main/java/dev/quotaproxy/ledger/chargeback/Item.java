package dev.quotaproxy.ledger.chargeback;

import java.math.BigDecimal;
import java.util.Locale;

/**
 * What a statement charges for, each in its unit, from a figure the ledger measures: storage in
 * GiB-months from byte-hours, egress and ingress in GiB from bytes, pulls per 1,000. GiB is 2^30
 * bytes. A GiB-month is a GiB stored for every hour of the month: byte-hours / 2^30 / the month's
 * hours. Pure.
 */
public enum Item {
  STORAGE("GiB-month", "byte-hours"), EGRESS("GiB", "bytes"), INGRESS("GiB", "bytes"), PULLS("1000 pulls", "pulls");

  public static final BigDecimal GIB = BigDecimal.valueOf(1L << 30);
  private static final BigDecimal THOUSAND = BigDecimal.valueOf(1000);

  public final String unit;
  /** The unit of the figure measured. */
  public final String measuredIn;

  Item(String unit, String measuredIn) {
    this.unit = unit;
    this.measuredIn = measuredIn;
  }

  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** What one unit is in the measured figure: 2^30 x the month's hours byte-hours, 2^30 bytes, 1,000 pulls. */
  public BigDecimal perUnit(long monthHours) {
    return switch (this) {
      case STORAGE -> GIB.multiply(BigDecimal.valueOf(monthHours));
      case EGRESS, INGRESS -> GIB;
      case PULLS -> THOUSAND;
    };
  }
}
