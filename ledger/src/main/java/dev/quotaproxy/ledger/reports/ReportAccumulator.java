package dev.quotaproxy.ledger.reports;

import dev.quotaproxy.oci.Scopes;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Instant;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * Turns the ledger's rows, as the report query streams them, into report rows and totals, holding
 * one key at a time: a year of rows passes through in constant memory (plus the set of keys seen,
 * which is bounded by the scopes there are). Pure.
 *
 * <p>The input is ordered by key, then bucket (each key's seeds first), then part. A part is what a
 * key adds up: the key itself, or for a group each of its root scopes. The ledger records storage
 * only in buckets where it changed: its high water there, and the level it closed at. A part's storage
 * in a bucket where it changed is its high water; in a bucket without a change, the level the last
 * change before it closed at (a seed is that level from before the period). A key's storage in a
 * bucket is the sum of its parts' figures. The counts (repositories, manifests) are carried the same
 * way, each on its own. So after a delete, the buckets after it show what was left, not the high.
 *
 * <p>A group's part taken at a share (see {@link Shares}) adds that share of its figures; such a row
 * says which parts were split, and its figures are the exact sum rounded half-even to a whole byte or
 * count (the chargeback statement prices the exact figures, not these). Counts are summed whole: a share
 * splits bytes and money, not repositories.
 */
public final class ReportAccumulator {
  private final By by;
  private final Consumer<ReportRow> out;
  /** Per key, the parts taken at a share, as a fraction of 1. */
  private final Map<String, Map<String, BigDecimal>> fractions = new HashMap<>();
  private Map<String, BigDecimal> keyFractions = Map.of();
  private final Map<String, BigDecimal> splitInBucket = new TreeMap<>();
  private BigDecimal sharedIngress = BigDecimal.ZERO;
  private BigDecimal sharedEgress = BigDecimal.ZERO;
  private BigDecimal sharedPushes = BigDecimal.ZERO;
  private BigDecimal sharedPulls = BigDecimal.ZERO;

  private final Set<String> keysSeen = new HashSet<>();
  private String key;
  private boolean keyCounted;
  private boolean keyEmitted;
  private long keyPeak;
  /** Per part, each figure as the buckets so far left it: where it last closed. */
  private final Map<String, Long> storageByPart = new HashMap<>();
  private final Map<String, Long> repositoriesByPart = new HashMap<>();
  private final Map<String, Long> manifestsByPart = new HashMap<>();

  private Instant bucket;
  /** Per part that changed the figure in the bucket: its high water there, and where it closed. */
  private final Map<String, Long> highWaterInBucket = new HashMap<>();
  private final Map<String, Long> storageClosedInBucket = new HashMap<>();
  private final Map<String, Long> repositoriesInBucket = new HashMap<>();
  private final Map<String, Long> repositoriesClosedInBucket = new HashMap<>();
  private final Map<String, Long> manifestsInBucket = new HashMap<>();
  private final Map<String, Long> manifestsClosedInBucket = new HashMap<>();
  private long ingress;
  private long egress;
  private long pushes;
  private long pulls;

  private long totalPeak;
  private long totalIngress;
  private long totalEgress;
  private long totalPushes;
  private long totalPulls;
  private long rows;

  public ReportAccumulator(By by, Consumer<ReportRow> out) {
    this(by, Map.of(), out);
  }

  /** @param shares per key (a group), the parts taken at a share, in percent */
  public ReportAccumulator(By by, Map<String, Map<String, BigDecimal>> shares, Consumer<ReportRow> out) {
    this.by = by;
    this.out = out;
    shares.forEach((key, parts) -> {
      Map<String, BigDecimal> fraction = new HashMap<>();
      parts.forEach((part, percent) -> {
        if (percent.compareTo(Shares.WHOLE) < 0) {
          fraction.put(part, Shares.fraction(percent));
        }
      });
      fractions.put(key, fraction);
    });
  }

  /**
   * Where a figure was left by a bucket: its close; for a row recorded before closes were (close null,
   * high water above 0), its high water, the best there is. Null: the figure did not change there.
   */
  public static Long closedAt(long highWater, Long close) {
    return close != null ? close : highWater > 0 ? highWater : null;
  }

  /**
   * One row of the query.
   *
   * @param bucket    the bucket's start; null for a seed
   * @param highWater the highest storage the part reached in the bucket; 0 when it did not change there
   * @param close     the storage the part was left at when the bucket closed; null when it did not change
   *                  there. For a seed, the level before the period (its high water is not taken)
   * @param repositoriesHighWater the highest repository count the part reached in the bucket; 0: no change there
   * @param repositoriesClose     the repository count the bucket closed at; null: no change there
   * @param manifestsHighWater    likewise for its manifests
   * @param manifestsClose        likewise for its manifests
   */
  public void add(String key, String part, Instant bucket, long highWater, Long close, long ingress, long egress, long pushes,
      long pulls, long repositoriesHighWater, Long repositoriesClose, long manifestsHighWater, Long manifestsClose) {
    if (!key.equals(this.key)) {
      finishKey();
      this.key = key;
      keyFractions = fractions.getOrDefault(key, Map.of());
    }
    Long storageClosed = closedAt(highWater, close);
    Long repositoriesClosed = closedAt(repositoriesHighWater, repositoriesClose);
    Long manifestsClosed = closedAt(manifestsHighWater, manifestsClose);
    if (bucket == null) {
      if (storageClosed != null) {
        storageByPart.put(part, storageClosed);
      }
      if (repositoriesClosed != null) {
        repositoriesByPart.put(part, repositoriesClosed);
      }
      if (manifestsClosed != null) {
        manifestsByPart.put(part, manifestsClosed);
      }
      return;
    }
    if (!bucket.equals(this.bucket)) {
      flushBucket();
      this.bucket = bucket;
    }
    changed(part, highWater, storageClosed, highWaterInBucket, storageClosedInBucket);
    changed(part, repositoriesHighWater, repositoriesClosed, repositoriesInBucket, repositoriesClosedInBucket);
    changed(part, manifestsHighWater, manifestsClosed, manifestsInBucket, manifestsClosedInBucket);
    BigDecimal fraction = keyFractions.get(part);
    if (fraction == null) {
      this.ingress += ingress;
      this.egress += egress;
      this.pushes += pushes;
      this.pulls += pulls;
      return;
    }
    if ((ingress | egress | pushes | pulls) != 0) {
      splitInBucket.put(part, fraction.movePointRight(2));
    }
    sharedIngress = sharedIngress.add(fraction.multiply(BigDecimal.valueOf(ingress)));
    sharedEgress = sharedEgress.add(fraction.multiply(BigDecimal.valueOf(egress)));
    sharedPushes = sharedPushes.add(fraction.multiply(BigDecimal.valueOf(pushes)));
    sharedPulls = sharedPulls.add(fraction.multiply(BigDecimal.valueOf(pulls)));
  }

  /** Notes a figure's change in the bucket, if it changed (closed somewhere). */
  private static void changed(String part, long highWater, Long closed, Map<String, Long> highWaters, Map<String, Long> closes) {
    if (closed != null) {
      highWaters.merge(part, highWater, Math::max);
      closes.put(part, closed);
    }
  }

  private static long whole(BigDecimal value) {
    return value.setScale(0, RoundingMode.HALF_EVEN).longValueExact();
  }

  /** Emits what is pending and gives the totals; call once, after the last row. */
  public ReportTotals finish() {
    finishKey();
    return new ReportTotals(totalPeak, totalIngress, totalEgress, totalPushes, totalPulls, rows, keysSeen.size());
  }

  private void flushBucket() {
    if (bucket == null) {
      return;
    }
    // In the bucket: a part's high water where it changed, else where it was left before.
    long repositories = sum(repositoriesInBucket) + sumExcept(repositoriesByPart, repositoriesInBucket);
    long manifests = sum(manifestsInBucket) + sumExcept(manifestsByPart, manifestsInBucket);
    Map<String, Long> storageInBucket = new HashMap<>(storageByPart);
    storageInBucket.putAll(highWaterInBucket);
    long storage = 0;
    BigDecimal sharedStorage = BigDecimal.ZERO;
    for (var figure : storageInBucket.entrySet()) {
      BigDecimal fraction = keyFractions.get(figure.getKey());
      if (fraction == null) {
        storage += figure.getValue();
      } else if (figure.getValue() != 0) {
        sharedStorage = sharedStorage.add(fraction.multiply(BigDecimal.valueOf(figure.getValue())));
        splitInBucket.put(figure.getKey(), fraction.movePointRight(2));
      }
    }
    // The buckets after carry where each figure closed; the row says where that is, so a reader can carry it too.
    storageByPart.putAll(storageClosedInBucket);
    repositoriesByPart.putAll(repositoriesClosedInBucket);
    manifestsByPart.putAll(manifestsClosedInBucket);
    long storageEnd = sharedSum(storageByPart);
    if (!keyFractions.isEmpty()) {
      storage += whole(sharedStorage);
      ingress += whole(sharedIngress);
      egress += whole(sharedEgress);
      pushes += whole(sharedPushes);
      pulls += whole(sharedPulls);
    }
    if (!keyEmitted) {
      keyEmitted = true;
      keyCounted = !by.keysNest() || notUnderAnotherKey(key);
      keysSeen.add(key);
    }
    Map<String, BigDecimal> split = splitInBucket.isEmpty() ? Map.of() : new TreeMap<>();
    splitInBucket.forEach((part, percent) -> split.put(part, Shares.normal(percent)));
    out.accept(by.hasStorage()
        ? new ReportRow(bucket, key, storage, ingress, egress, pushes, pulls, repositories, manifests, storageEnd, sum(repositoriesByPart),
            sum(manifestsByPart), split)
        : new ReportRow(bucket, key, 0, ingress, egress, pushes, pulls, 0, 0, split));
    rows++;
    keyPeak = Math.max(keyPeak, storage);
    if (keyCounted) {
      totalIngress += ingress;
      totalEgress += egress;
      totalPushes += pushes;
      totalPulls += pulls;
    }
    bucket = null;
    highWaterInBucket.clear();
    storageClosedInBucket.clear();
    repositoriesInBucket.clear();
    repositoriesClosedInBucket.clear();
    manifestsInBucket.clear();
    manifestsClosedInBucket.clear();
    ingress = egress = pushes = pulls = 0;
    splitInBucket.clear();
    sharedIngress = sharedEgress = sharedPushes = sharedPulls = BigDecimal.ZERO;
  }

  /** Keys come sorted, and a scope sorts after its ancestors: they were all seen before it. */
  private boolean notUnderAnotherKey(String scope) {
    List<String> path = Scopes.of(scope);
    for (String ancestor : path.subList(0, path.size() - 1)) {
      if (keysSeen.contains(ancestor)) {
        return false;
      }
    }
    return true;
  }

  private void finishKey() {
    flushBucket();
    if (keyEmitted && keyCounted && by.hasStorage()) {
      totalPeak += keyPeak;
    }
    key = null;
    keyEmitted = false;
    keyCounted = false;
    keyPeak = 0;
    storageByPart.clear();
    repositoriesByPart.clear();
    manifestsByPart.clear();
  }

  /** The figures of the parts not in {@code except}. */
  private static long sumExcept(Map<String, Long> figures, Map<String, Long> except) {
    long sum = 0;
    for (var figure : figures.entrySet()) {
      if (!except.containsKey(figure.getKey())) {
        sum += figure.getValue();
      }
    }
    return sum;
  }

  /** The parts' figures, each at the key's share of it, rounded half-even as a row's storage is. */
  private long sharedSum(Map<String, Long> figures) {
    long whole = 0;
    BigDecimal shared = BigDecimal.ZERO;
    for (var figure : figures.entrySet()) {
      BigDecimal fraction = keyFractions.get(figure.getKey());
      if (fraction == null) {
        whole += figure.getValue();
      } else {
        shared = shared.add(fraction.multiply(BigDecimal.valueOf(figure.getValue())));
      }
    }
    return whole + whole(shared);
  }

  private static long sum(Map<String, Long> figures) {
    long sum = 0;
    for (long figure : figures.values()) {
      sum += figure;
    }
    return sum;
  }
}
