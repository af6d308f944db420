package dev.quotaproxy.ledger;

/**
 * One scope whose usage the ledger had wrong, as a reconciliation found it.
 *
 * @param expected what the ledger's {@code scope_usage} held before the run
 * @param found    the usage recomputed from the links after the walk; the ledger now holds it
 */
public record Drift(String scope, long expected, long found) {}
