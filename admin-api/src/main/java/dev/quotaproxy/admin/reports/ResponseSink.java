package dev.quotaproxy.admin.reports;

import dev.quotaproxy.ledger.reports.By;
import dev.quotaproxy.ledger.reports.ReportRow;
import dev.quotaproxy.ledger.reports.ReportSink;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;

/**
 * A report written to an HTTP response as it streams. Rows are gathered into writes of about
 * {@value #CHUNK} bytes; the response's write queue is the backpressure: while it is full, no row is
 * fetched. Nothing is sent before the first full chunk, so a report that fails early (or is short)
 * still gets a proper status.
 */
final class ResponseSink implements ReportSink {
  static final int CHUNK = 16 * 1024;

  private final HttpServerResponse response;
  private final ReportFormat format;
  private final By by;
  private Buffer pending;
  private boolean first = true;

  ResponseSink(HttpServerResponse response, ReportFormat format, By by, String head) {
    this.response = response;
    this.format = format;
    this.by = by;
    this.pending = Buffer.buffer(CHUNK + 512).appendString(head);
  }

  @Override
  public void row(ReportRow row) {
    pending.appendString(format.row(by, row, first));
    first = false;
    if (pending.length() >= CHUNK) {
      flush();
    }
  }

  @Override
  public boolean full() {
    return response.writeQueueFull();
  }

  @Override
  public void whenDrained(Runnable resume) {
    response.drainHandler(v -> {
      response.drainHandler(null);
      resume.run();
    });
  }

  @Override
  public void onGone(Runnable cancel) {
    response.closeHandler(v -> {
      if (!response.ended()) {
        cancel.run();
      }
    });
  }

  /** Sends the rest and ends the response. */
  void end(String tail) {
    pending.appendString(tail);
    if (response.headWritten()) {
      response.end(pending);
    } else {
      response.putHeader("Content-Length", Integer.toString(pending.length())).end(pending);
    }
  }

  private void flush() {
    if (!response.headWritten()) {
      response.setChunked(true);
    }
    response.write(pending);
    pending = Buffer.buffer(CHUNK + 512);
  }
}
