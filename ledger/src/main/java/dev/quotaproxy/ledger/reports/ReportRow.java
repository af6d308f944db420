package dev.quotaproxy.ledger.reports;

import java.math.BigDecimal;
import java.time.Instant;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * One line of a report: a key (a scope, repository, user or group) in one time bucket.
 *
 * @param storage         the storage high-water mark in bytes: the highest the key's storage was in the bucket,
 *                        or, in a bucket where it did not change, where it was left before (0 for users, whose
 *                        traffic the ledger keeps but not their storage)
 * @param repositories    the high-water mark of the key's repository count (repositories holding anything at or
 *                        under it), carried through buckets without a change as storage is (0 for users)
 * @param manifests       the high-water mark of the manifests held under the key, likewise
 * @param storageEnd      where the key's storage was left when the bucket ended: what the buckets after it hold
 *                        until the key's next row (below {@code storage} after a delete)
 * @param repositoriesEnd where the repository count was left, likewise
 * @param manifestsEnd    where the manifest count was left, likewise
 * @param split           for a group, its members whose figures in this row were taken at a share (percent); the
 *                        row's bytes and traffic are then the sum of the shares, rounded half-even to a whole byte
 *                        or count (its counts are not split: a repository is not shared out)
 */
public record ReportRow(Instant bucket, String key, long storage, long ingress, long egress, long pushes, long pulls,
    long repositories, long manifests, long storageEnd, long repositoriesEnd, long manifestsEnd, Map<String, BigDecimal> split) {
  public ReportRow {
    split = split.isEmpty() ? Map.of() : Collections.unmodifiableMap(new TreeMap<>(split));
  }

  /** A row whose figures end the bucket where its high water is (no figure fell in it). */
  public ReportRow(Instant bucket, String key, long storage, long ingress, long egress, long pushes, long pulls,
      long repositories, long manifests, Map<String, BigDecimal> split) {
    this(bucket, key, storage, ingress, egress, pushes, pulls, repositories, manifests, storage, repositories, manifests, split);
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

  /** The same row, its figures ending the bucket at these levels. */
  public ReportRow endingAt(long storageEnd, long repositoriesEnd, long manifestsEnd) {
    return new ReportRow(bucket, key, storage, ingress, egress, pushes, pulls, repositories, manifests, storageEnd, repositoriesEnd,
        manifestsEnd, split);
  }
}
