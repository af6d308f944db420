package dev.quotaproxy.ledger;

/**
 * A namespace's row of {@code namespace_progress}: the newest stream entry applied, and the highest
 * sequence number (0: none numbered yet).
 */
record NamespaceProgress(StreamPosition position, long sequence) {}
