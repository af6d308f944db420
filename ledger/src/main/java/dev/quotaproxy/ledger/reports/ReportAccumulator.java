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
 * key adds up: the key itself, or for a group each of its root scopes. A seed is a part's last
 * storage figure before the period: the ledger records storage only in hours where it changed, so a
 * bucket without a change carries the figure before it, and a key's storage in a bucket is the sum of
 * its parts' figures. The counts (repositories, manifests) are carried the same way, each on its own: a part's
 * count in a bucket is its high water there, or its last one before.
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
  private final Map<String, Long> storageByPart = new HashMap<>();
  private final Map<String, Long> repositoriesByPart = new HashMap<>();
  private final Map<String, Long> manifestsByPart = new HashMap<>();

  private Instant bucket;
  private final Map<String, Long> highWaterInBucket = new HashMap<>();
  private final Map<String, Long> repositoriesInBucket = new HashMap<>();
  private final Map<String, Long> manifestsInBucket = new HashMap<>();
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
   * One row of the query.
   *
   * @param bucket    the bucket's start; null for a seed
   * @param highWater the highest storage the part reached in the bucket; 0 when it did not change there
   * @param repositoriesHighWater the highest repository count the part reached in the bucket; 0: no change there
   * @param manifestsHighWater    likewise for its manifests
   */
  public void add(String key, String part, Instant bucket, long highWater, long ingress, long egress, long pushes, long pulls,
      long repositoriesHighWater, long manifestsHighWater) {
    if (!key.equals(this.key)) {
      finishKey();
      this.key = key;
      keyFractions = fractions.getOrDefault(key, Map.of());
    }
    if (bucket == null) {
      if (highWater > 0) {
        storageByPart.put(part, highWater);
      }
      if (repositoriesHighWater > 0) {
        repositoriesByPart.put(part, repositoriesHighWater);
      }
      if (manifestsHighWater > 0) {
        manifestsByPart.put(part, manifestsHighWater);
      }
      return;
    }
    if (!bucket.equals(this.bucket)) {
      flushBucket();
      this.bucket = bucket;
    }
    if (highWater > 0) {
      highWaterInBucket.merge(part, highWater, Math::max);
    }
    if (repositoriesHighWater > 0) {
      repositoriesInBucket.merge(part, repositoriesHighWater, Math::max);
    }
    if (manifestsHighWater > 0) {
      manifestsInBucket.merge(part, manifestsHighWater, Math::max);
    }
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
    storageByPart.putAll(highWaterInBucket);
    repositoriesByPart.putAll(repositoriesInBucket);
    manifestsByPart.putAll(manifestsInBucket);
    long repositories = sum(repositoriesByPart);
    long manifests = sum(manifestsByPart);
    long storage = 0;
    BigDecimal sharedStorage = BigDecimal.ZERO;
    for (var figure : storageByPart.entrySet()) {
      BigDecimal fraction = keyFractions.get(figure.getKey());
      if (fraction == null) {
        storage += figure.getValue();
      } else {
        sharedStorage = sharedStorage.add(fraction.multiply(BigDecimal.valueOf(figure.getValue())));
        splitInBucket.put(figure.getKey(), fraction.movePointRight(2));
      }
    }
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
    out.accept(new ReportRow(bucket, key, by.hasStorage() ? storage : 0, ingress, egress, pushes, pulls,
        by.hasStorage() ? repositories : 0, by.hasStorage() ? manifests : 0, split));
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
    repositoriesInBucket.clear();
    manifestsInBucket.clear();
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

  private static long sum(Map<String, Long> figures) {
    long sum = 0;
    for (long figure : figures.values()) {
      sum += figure;
    }
    return sum;
  }
}
