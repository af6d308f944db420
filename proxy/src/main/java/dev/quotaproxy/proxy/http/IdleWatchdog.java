package dev.quotaproxy.proxy.http;

import io.vertx.core.Vertx;
import java.util.concurrent.TimeUnit;

/**
 * Fires once when an exchange has moved nothing for the timeout. Activity only records a time; the
 * single timer re-arms itself lazily for the remainder, so a busy transfer costs one clock read per
 * chunk rather than a timer per chunk.
 */
final class IdleWatchdog {
  private final Vertx vertx;
  private final long timeoutNanos;
  private final Runnable onIdle;
  private long lastActivity;
  private long timerId = -1;

  IdleWatchdog(Vertx vertx, long timeoutMillis, Runnable onIdle) {
    this.vertx = vertx;
    this.timeoutNanos = TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    this.onIdle = onIdle;
  }

  void start() {
    touch();
    arm(timeoutNanos);
  }

  void touch() {
    lastActivity = System.nanoTime();
  }

  void stop() {
    if (timerId != -1) {
      vertx.cancelTimer(timerId);
      timerId = -1;
    }
  }

  private void arm(long delayNanos) {
    timerId = vertx.setTimer(Math.max(1, TimeUnit.NANOSECONDS.toMillis(delayNanos)), id -> check());
  }

  private void check() {
    timerId = -1;
    long idle = System.nanoTime() - lastActivity;
    if (idle >= timeoutNanos) {
      onIdle.run();
    } else {
      arm(timeoutNanos - idle);
    }
  }
}
