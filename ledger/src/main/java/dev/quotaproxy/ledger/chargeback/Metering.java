package dev.quotaproxy.ledger.chargeback;

import dev.quotaproxy.ledger.reports.Reports;
import dev.quotaproxy.ledger.reports.Shares;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Adds up the hourly rows of a report by scope or group (as {@link Reports#hourlyRows} gives them)
 * into what a statement charges, per key and per price segment: byte-hours of storage, bytes of egress
 * and ingress, pulls. Pure.
 *
 * <p>Storage is the figure the usage reports show: a part's storage in an hour is the high-water mark
 * the ledger recorded in that hour, or the last one before it (a seed from before the period
 * included), and a day rolled up by retention holds its daily figure for all its hours. Each hour
 * from the start of the period to its end is counted, rows or not. A part taken at a share adds that
 * share of its figures, exactly.
 */
public final class Metering {
  /** Per key: per segment, the measured figure of each item; and the parts whose figures were split. */
  public record KeyUsage(BigDecimal[][] measured, Map<String, BigDecimal> split) {}

  private final List<Instant> starts;
  private final Instant end;
  private final Map<String, Map<String, BigDecimal>> shares;
  private final Map<String, KeyUsage> usage = new TreeMap<>();

  private String key;
  private Map<String, BigDecimal> keyShares = Map.of();
  private final Map<String, Long> storageByPart = new HashMap<>();
  private Instant cursor;
  private Instant bucket;
  private BigDecimal[][] measured;
  private Map<String, BigDecimal> split;

  /**
   * @param starts the start of each segment, in order, the first the period's start
   * @param end    the period's end
   * @param shares per key, the parts taken at a share (percent)
   */
  public Metering(List<Instant> starts, Instant end, Map<String, Map<String, BigDecimal>> shares) {
    this.starts = List.copyOf(starts);
    this.end = end;
    this.shares = shares;
  }

  /** One row; see {@link Reports.LedgerRows}. */
  public void add(String key, String part, Instant bucket, long highWater, long ingress, long egress, long pushes, long pulls) {
    if (!key.equals(this.key)) {
      finishKey();
      start(key);
    }
    if (bucket == null) {
      if (highWater > 0) {
        storageByPart.put(part, highWater);
      }
      return;
    }
    if (!bucket.equals(this.bucket)) {
      advance(bucket);
      this.bucket = bucket;
    }
    if (highWater > 0) {
      storageByPart.put(part, highWater);
    }
    BigDecimal share = share(part, ingress | egress | pulls);
    BigDecimal[] segment = measured[segment(bucket)];
    segment[Item.EGRESS.ordinal()] = segment[Item.EGRESS.ordinal()].add(share.multiply(BigDecimal.valueOf(egress)));
    segment[Item.INGRESS.ordinal()] = segment[Item.INGRESS.ordinal()].add(share.multiply(BigDecimal.valueOf(ingress)));
    segment[Item.PULLS.ordinal()] = segment[Item.PULLS.ordinal()].add(share.multiply(BigDecimal.valueOf(pulls)));
  }

  /** Every key's usage; call once, after the last row. */
  public Map<String, KeyUsage> finish() {
    finishKey();
    return usage;
  }

  private void start(String key) {
    this.key = key;
    keyShares = shares.getOrDefault(key, Map.of());
    cursor = starts.get(0);
    bucket = null;
    measured = new BigDecimal[starts.size()][Item.values().length];
    for (BigDecimal[] segment : measured) {
      java.util.Arrays.fill(segment, BigDecimal.ZERO);
    }
    split = new TreeMap<>();
  }

  /** The fraction of a part's figures the key takes (1 unless it has a share), noting a split that mattered. */
  private BigDecimal share(String part, long figures) {
    BigDecimal percent = keyShares.get(part);
    if (percent == null || percent.compareTo(Shares.WHOLE) >= 0) {
      return BigDecimal.ONE;
    }
    if (figures != 0) {
      split.put(part, Shares.normal(percent));
    }
    return Shares.fraction(percent);
  }

  /** Counts storage as it stands for every hour from the cursor to {@code to}, into the segments they fall in. */
  private void advance(Instant to) {
    if (!to.isAfter(cursor)) {
      return;
    }
    BigDecimal level = BigDecimal.ZERO;
    for (var part : storageByPart.entrySet()) {
      level = level.add(share(part.getKey(), part.getValue()).multiply(BigDecimal.valueOf(part.getValue())));
    }
    if (level.signum() != 0) {
      for (int i = 0; i < starts.size(); i++) {
        Instant segmentEnd = i + 1 < starts.size() ? starts.get(i + 1) : end;
        Instant from = cursor.isAfter(starts.get(i)) ? cursor : starts.get(i);
        Instant until = to.isBefore(segmentEnd) ? to : segmentEnd;
        if (until.isAfter(from)) {
          BigDecimal hours = BigDecimal.valueOf(Duration.between(from, until).toHours());
          BigDecimal[] segment = measured[i];
          segment[Item.STORAGE.ordinal()] = segment[Item.STORAGE.ordinal()].add(level.multiply(hours));
        }
      }
    }
    cursor = to;
  }

  private int segment(Instant at) {
    int index = 0;
    for (int i = 1; i < starts.size(); i++) {
      if (!at.isBefore(starts.get(i))) {
        index = i;
      }
    }
    return index;
  }

  private void finishKey() {
    if (key == null) {
      return;
    }
    advance(end);
    usage.put(key, new KeyUsage(measured, Map.copyOf(split)));
    key = null;
    storageByPart.clear();
  }
}
