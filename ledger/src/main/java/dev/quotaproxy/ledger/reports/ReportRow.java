package dev.quotaproxy.ledger.reports;

import java.math.BigDecimal;
import java.time.Instant;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * One line of a report: a key (a scope, repository, user or group) in one time bucket.
 *
 * @param storage      the storage high-water mark in bytes: the highest the key's storage was in the bucket,
 *                     or, in a bucket where it did not change, the last level recorded before (0 for users,
 *                     whose traffic the ledger keeps but not their storage)
 * @param repositories the high-water mark of the key's repository count (repositories holding anything at or
 *                     under it), carried through buckets without a change as storage is (0 for users)
 * @param manifests    the high-water mark of the manifests held under the key, likewise
 * @param split        for a group, its members whose figures in this row were taken at a share (percent); the
 *                     row's bytes and traffic are then the sum of the shares, rounded half-even to a whole byte
 *                     or count (its counts are not split: a repository is not shared out)
 */
public record ReportRow(Instant bucket, String key, long storage, long ingress, long egress, long pushes, long pulls,
    long repositories, long manifests, Map<String, BigDecimal> split) {
  public ReportRow {
    split = split.isEmpty() ? Map.of() : Collections.unmodifiableMap(new TreeMap<>(split));
  }

  public ReportRow(Instant bucket, String key, long storage, long ingress, long egress, long pushes, long pulls,
      long repositories, long manifests) {
    this(bucket, key, storage, ingress, egress, pushes, pulls, repositories, manifests, Map.of());
  }

  public ReportRow(Instant bucket, String key, long storage, long ingress, long egress, long pushes, long pulls,
      Map<String, BigDecimal> split) {
    this(bucket, key, storage, ingress, egress, pushes, pulls, 0, 0, split);
  }

  public ReportRow(Instant bucket, String key, long storage, long ingress, long egress, long pushes, long pulls) {
    this(bucket, key, storage, ingress, egress, pushes, pulls, 0, 0, Map.of());
  }
}
