package dev.quotaproxy.ledger.reports;

import java.time.Instant;

/**
 * One line of a report: a key (a scope, repository, user or group) in one time bucket.
 *
 * @param storage the storage high-water mark in bytes: the highest the key's storage was in the bucket,
 *                or, in a bucket where it did not change, the last level recorded before (0 for users,
 *                whose traffic the ledger keeps but not their storage)
 */
public record ReportRow(Instant bucket, String key, long storage, long ingress, long egress, long pushes, long pulls) {}
