package dev.quotaproxy.ledger.reports;

/**
 * Where a streamed report goes, row by row, with backpressure: while the sink is full the rows stop
 * coming from Postgres (the cursor is not read), and they resume when it has drained.
 */
public interface ReportSink {
  void row(ReportRow row);

  /** Whether the sink wants no more rows until it calls back {@link #whenDrained}. */
  boolean full();

  /** Called once the sink can take rows again, after {@link #full()} said it could not. */
  void whenDrained(Runnable resume);

  /** The sink's reader went away: {@code cancel} stops the report and gives its connection back. */
  default void onGone(Runnable cancel) {}
}
