package dev.quotaproxy.metering.schedule;

import io.vertx.core.AsyncResult;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import java.util.function.Supplier;

/**
 * A background pass run every interval on the event loop, never two at once: a pass still running when the
 * next is due (Redis or Postgres slow) is not joined by another, the turn is skipped. Each pass's outcome goes
 * to {@code after}, which logs it as its owner sees fit.
 */
public final class Periodic {
  private final Supplier<Future<?>> pass;
  private final Handler<AsyncResult<?>> after;
  private boolean running;

  private Periodic(Supplier<Future<?>> pass, Handler<AsyncResult<?>> after) {
    this.pass = pass;
    this.after = after;
  }

  /** Runs {@code pass} every {@code intervalMillis}, the first time after one interval; the timer's id. */
  public static long every(Vertx vertx, long intervalMillis, Supplier<Future<?>> pass, Handler<AsyncResult<?>> after) {
    Periodic periodic = new Periodic(pass, after);
    return vertx.setPeriodic(intervalMillis, id -> periodic.runUnlessRunning());
  }

  /** As {@link #every}, with a first pass now. */
  public static long nowAndEvery(Vertx vertx, long intervalMillis, Supplier<Future<?>> pass, Handler<AsyncResult<?>> after) {
    Periodic periodic = new Periodic(pass, after);
    periodic.runUnlessRunning();
    return vertx.setPeriodic(intervalMillis, id -> periodic.runUnlessRunning());
  }

  private void runUnlessRunning() {
    if (running) {
      return;
    }
    running = true;
    Future<?> started;
    try {
      started = pass.get();
    } catch (RuntimeException e) {
      started = Future.failedFuture(e);
    }
    started.onComplete(done -> {
      running = false;
      after.handle(done);
    });
  }
}
