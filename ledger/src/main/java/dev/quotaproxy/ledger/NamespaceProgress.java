package dev.quotaproxy.ledger;

import io.vertx.sqlclient.Row;

/**
 * A namespace's row of {@code namespace_progress}: the newest stream entry applied, and the highest
 * sequence number (0: none numbered yet).
 */
record NamespaceProgress(StreamPosition position, long sequence) {
  static NamespaceProgress of(Row row) {
    return new NamespaceProgress(new StreamPosition(row.getLong("last_stream_ms"), row.getLong("last_stream_seq")),
        row.getLong("last_sequence"));
  }
}
