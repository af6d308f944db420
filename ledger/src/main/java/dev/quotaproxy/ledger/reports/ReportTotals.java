package dev.quotaproxy.ledger.reports;

/**
 * What a report adds up to, counted so that nothing is counted twice: traffic of the keys not under
 * another key of the report (in a report by scope, {@code acme}'s rows hold {@code acme/app}'s
 * traffic already), and the storage peak as the sum of those keys' highest storage in the period.
 *
 * @param rows the report's rows
 * @param keys its distinct keys
 */
public record ReportTotals(long storagePeak, long ingress, long egress, long pushes, long pulls, long rows, long keys) {}
