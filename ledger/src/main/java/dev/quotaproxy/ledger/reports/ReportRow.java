package dev.quotaproxy.ledger.reports;

import java.math.BigDecimal;
import java.time.Instant;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * One line of a report: a key (a scope, repository, user or group) in one time bucket.
 *
 * @param storage the storage high-water mark in bytes: the highest the key's storage was in the bucket,
 *                or, in a bucket where it did not change, the last level recorded before (0 for users,
 *                whose traffic the ledger keeps but not their storage)
 * @param split   for a group, its members whose figures in this row were taken at a share (percent); the
 *                row's figures are then the sum of the shares, rounded half-even to a whole byte or count
 */
public record ReportRow(Instant bucket, String key, long storage, long ingress, long egress, long pushes, long pulls,
    Map<String, BigDecimal> split) {
  public ReportRow {
    split = split.isEmpty() ? Map.of() : Collections.unmodifiableMap(new TreeMap<>(split));
  }

  public ReportRow(Instant bucket, String key, long storage, long ingress, long egress, long pushes, long pulls) {
    this(bucket, key, storage, ingress, egress, pushes, pulls, Map.of());
  }
}
