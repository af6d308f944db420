package dev.quotaproxy.proxy.http;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes the access log's batches of lines, from every event loop, on one thread of its own: a slow
 * standard output (a full pipe, a stalled log collector) blocks that thread, never an event loop. Batches
 * wait in a lock-free queue of at most {@link #QUEUE_BATCHES}; when it is full a batch is dropped and its
 * lines counted ({@link #droppedLines}), rather than memory growing or traffic stalling. The thread looks
 * every {@link #POLL_MILLIS} ms instead of being woken for each batch: waking it cost an event loop as much
 * as the rest of the access log. Whatever the queue holds is written at exit.
 */
public final class AccessLogWriter {
  private static final Logger LOG = LoggerFactory.getLogger(AccessLogWriter.class);
  /** Batches waiting: at most this many turns of every event loop, some megabytes under load. */
  static final int QUEUE_BATCHES = 4096;
  /** How long a line may wait for the thread: the access log is at most this far behind. */
  static final long POLL_MILLIS = 10;
  private static volatile AccessLogWriter stdout;

  private final Queue<String> queue = new ConcurrentLinkedQueue<>();
  private final AtomicInteger queued = new AtomicInteger();
  private final AtomicLong dropped = new AtomicLong();
  private final Supplier<OutputStream> out;
  private final Thread thread;

  AccessLogWriter(Supplier<OutputStream> out, String name) {
    this.out = out;
    this.thread = new Thread(this::run, name);
    thread.setDaemon(true);
    thread.start();
  }

  /** The process's writer to standard output ({@code System.out} as it is when each batch is written). */
  static AccessLogWriter stdout() {
    AccessLogWriter writer = stdout;
    if (writer == null) {
      synchronized (AccessLogWriter.class) {
        writer = stdout;
        if (writer == null) {
          writer = new AccessLogWriter(() -> System.out, "access-log-writer");
          AccessLogWriter started = writer;
          Runtime.getRuntime().addShutdownHook(new Thread(started::drain, "access-log-drain"));
          stdout = writer;
        }
      }
    }
    return writer;
  }

  /** Lines dropped because the queue was full, by the process's standard-output writer (0 if it never started). */
  public static long droppedLines() {
    AccessLogWriter writer = stdout;
    return writer == null ? 0 : writer.dropped.get();
  }

  /** Lines this writer dropped because its queue was full. */
  long dropped() {
    return dropped.get();
  }

  /** Queues a batch of whole lines; never blocks. */
  void offer(String lines) {
    if (queued.incrementAndGet() > QUEUE_BATCHES) {
      queued.decrementAndGet();
      dropped.addAndGet(lines.chars().filter(c -> c == '\n').count());
      return;
    }
    queue.add(lines);
  }

  private String poll() {
    String lines = queue.poll();
    if (lines != null) {
      queued.decrementAndGet();
    }
    return lines;
  }

  private void run() {
    StringBuilder batch = new StringBuilder(64 * 1024);
    while (!Thread.currentThread().isInterrupted()) {
      try {
        // Everything queued since the last look goes in one write (a megabyte at most).
        for (String more = poll(); more != null; more = batch.length() < 1024 * 1024 ? poll() : null) {
          batch.append(more);
        }
        if (batch.length() > 0) {
          write(batch);
          batch.setLength(0);
        } else {
          LockSupport.parkNanos(POLL_MILLIS * 1_000_000);
        }
      } catch (RuntimeException | IOException e) {
        batch.setLength(0);
        LOG.warn("access log lines not written: {}", e.toString());
      }
    }
  }

  private void write(CharSequence lines) throws IOException {
    OutputStream stream = out.get();
    stream.write(lines.toString().getBytes(StandardCharsets.UTF_8));
    stream.flush();
  }

  /** Writes what is queued now (at exit: the last turn's lines are not lost with the process). */
  void drain() {
    StringBuilder rest = new StringBuilder();
    for (String more = poll(); more != null; more = poll()) {
      rest.append(more);
    }
    try {
      if (rest.length() > 0) {
        write(rest);
      }
    } catch (IOException e) {
      // Exiting: nowhere left to say it.
    }
  }
}
