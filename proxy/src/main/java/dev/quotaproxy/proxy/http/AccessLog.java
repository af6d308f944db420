package dev.quotaproxy.proxy.http;

import dev.quotaproxy.config.ProxyConfig.AccessLogMode;
import dev.quotaproxy.proxy.route.OciRequest;
import io.vertx.core.Context;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One JSON line per request ({@link AccessLine}): what it was, how it ended, body bytes each way. Status 0
 * means no response head was sent (the client left, or the exchange was cut off).
 *
 * <p>One per event loop. In {@code stdout} mode the lines an event loop logs in one turn are gathered and
 * handed to the process's {@link AccessLogWriter} once, at the end of the turn: one hand-over and one write
 * for many requests under load, and no added wait when idle. A logback event per line (the {@code logger}
 * mode) cost a fifth of the proxy's CPU on small requests, most of it waking the appender's thread and
 * writing for every line.
 */
public final class AccessLog {
  private static final Logger LOG = LoggerFactory.getLogger("access");
  /** Past this, the gathered lines are handed over at once rather than at the end of the turn. */
  private static final int HAND_OVER_CHARS = 64 * 1024;

  private final AccessLogMode mode;
  private final Context context;
  private final AccessLogWriter writer;
  private final StringBuilder pending = new StringBuilder(4096);
  private boolean handOverScheduled;

  private AccessLog(AccessLogMode mode, Context context, AccessLogWriter writer) {
    this.mode = mode;
    this.context = context;
    this.writer = writer;
  }

  /** The access log of the event loop {@code context} runs on. */
  public static AccessLog on(Context context, AccessLogMode mode) {
    return new AccessLog(mode, context, mode == AccessLogMode.STDOUT ? AccessLogWriter.stdout() : null);
  }

  /** As {@link #on(Context, AccessLogMode)}, writing through {@code writer}: for tests. */
  static AccessLog on(Context context, AccessLogWriter writer) {
    return new AccessLog(AccessLogMode.STDOUT, context, writer);
  }

  /** Logs one request; only from the event loop this log belongs to. */
  void write(OciRequest oci, String method, String path, String user, int status, long bytesIn, long bytesOut, long millis,
      String outcome) {
    switch (mode) {
      case OFF -> {
      }
      case LOGGER -> {
        if (LOG.isInfoEnabled()) {
          StringBuilder line = new StringBuilder(256);
          AccessLine.append(line, oci.operation().name(), oci.repository(), method, path, user, status, bytesIn, bytesOut, millis, outcome);
          LOG.info(line.toString());
        }
      }
      case STDOUT -> {
        AccessLine.append(pending, oci.operation().name(), oci.repository(), method, path, user, status, bytesIn, bytesOut, millis,
            outcome);
        pending.append('\n');
        if (pending.length() >= HAND_OVER_CHARS) {
          handOver();
        } else if (!handOverScheduled) {
          handOverScheduled = true;
          // Runs after the I/O events of this turn: every line they log goes in one hand-over.
          context.runOnContext(v -> handOver());
        }
      }
    }
  }

  private void handOver() {
    handOverScheduled = false;
    if (pending.length() == 0) {
      return;
    }
    writer.offer(pending.toString());
    pending.setLength(0);
  }
}
