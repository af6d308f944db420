package dev.quotaproxy.ledger.chargeback;

import dev.quotaproxy.ledger.reports.ReportAccumulator;
import dev.quotaproxy.ledger.reports.Reports;
import dev.quotaproxy.ledger.reports.Shares;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Adds up the hourly rows of a report by scope or group (as {@link Reports#hourlyRows} gives them)
 * into what a statement charges, per key and per price segment: byte-hours of storage, bytes of egress
 * and ingress, pulls. Pure.
 *
 * <p>Storage is the figure the usage reports show: a part's storage in an hour where it changed is the
 * high-water mark the ledger recorded in that hour; in the hours after, until its next change, the
 * level that hour closed at (a seed from before the period is such a level). A day rolled up by
 * retention holds its daily high water for all its hours, and the hours after the day its close. Each
 * hour from the start of the period to its end is counted, rows or not. A part taken at a share adds
 * that share of its figures, exactly.
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
  private final Map<String, Level> storageByPart = new HashMap<>();
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

  /** A part's storage: {@code high} until {@code highUntil} (null: not at all), {@code after} from then on. */
  private record Level(long high, Instant highUntil, long after) {
    long at(Instant hour) {
      return highUntil != null && hour.isBefore(highUntil) ? high : after;
    }
  }

  /** One row; see {@link Reports.LedgerRows}. */
  public void add(String key, String part, Instant bucket, boolean day, long highWater, Long close, long ingress, long egress,
      long pushes, long pulls) {
    if (!key.equals(this.key)) {
      finishKey();
      start(key);
    }
    Long closed = ReportAccumulator.closedAt(highWater, close);
    if (bucket == null) {
      if (closed != null) {
        storageByPart.put(part, new Level(closed, null, closed));
      }
      return;
    }
    if (!bucket.equals(this.bucket)) {
      advance(bucket);
      this.bucket = bucket;
    }
    if (closed != null) {
      // A level that fell to 0 is recorded too: it carries 0, not what was there before.
      storageByPart.put(part, new Level(highWater, bucket.plus(day ? Duration.ofDays(1) : Duration.ofHours(1)), closed));
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

  /**
   * Counts storage as it stands for every hour from the cursor to {@code to}, into the segments they
   * fall in: in stretches, cut where a part's high water gives way to its close.
   */
  private void advance(Instant to) {
    if (!to.isAfter(cursor)) {
      return;
    }
    TreeSet<Instant> cuts = new TreeSet<>();
    for (Level part : storageByPart.values()) {
      if (part.highUntil() != null && part.highUntil().isAfter(cursor) && part.highUntil().isBefore(to)) {
        cuts.add(part.highUntil());
      }
    }
    cuts.add(to);
    for (Instant until : cuts) {
      count(cursor, until);
      cursor = until;
    }
  }

  /** Counts storage over [{@code from}, {@code to}), where no part's level changes. */
  private void count(Instant from, Instant to) {
    BigDecimal level = BigDecimal.ZERO;
    for (var part : storageByPart.entrySet()) {
      long bytes = part.getValue().at(from);
      level = level.add(share(part.getKey(), bytes).multiply(BigDecimal.valueOf(bytes)));
    }
    if (level.signum() == 0) {
      return;
    }
    for (int i = 0; i < starts.size(); i++) {
      Instant segmentEnd = i + 1 < starts.size() ? starts.get(i + 1) : end;
      Instant start = from.isAfter(starts.get(i)) ? from : starts.get(i);
      Instant until = to.isBefore(segmentEnd) ? to : segmentEnd;
      if (until.isAfter(start)) {
        BigDecimal hours = BigDecimal.valueOf(Duration.between(start, until).toHours());
        BigDecimal[] segment = measured[i];
        segment[Item.STORAGE.ordinal()] = segment[Item.STORAGE.ordinal()].add(level.multiply(hours));
      }
    }
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
