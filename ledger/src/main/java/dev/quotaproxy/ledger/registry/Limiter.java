package dev.quotaproxy.ledger.registry;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.ArrayDeque;
import java.util.function.Supplier;

/**
 * At most {@code limit} asynchronous tasks running at once; the rest wait in order. Tasks are submitted
 * and finish on any thread, so the counters are guarded; every task starts on the limiter's context, and a
 * waiting one never from inside the callback that finished another, so a long queue cannot nest into a
 * deep stack.
 */
final class Limiter {
  private final Context context;
  private final int limit;
  private final ArrayDeque<Runnable> waiting = new ArrayDeque<>();
  private int running;

  Limiter(Context context, int limit) {
    this.context = context;
    this.limit = limit;
  }

  <T> Future<T> submit(Supplier<Future<T>> task) {
    Promise<T> promise = Promise.promise();
    Runnable start = () -> {
      Future<T> future;
      try {
        future = task.get();
      } catch (RuntimeException e) {
        future = Future.failedFuture(e);
      }
      future.onComplete(result -> {
        release();
        promise.handle(result);
      });
    };
    boolean now;
    synchronized (this) {
      now = running < limit;
      if (now) {
        running++;
      } else {
        waiting.add(start);
      }
    }
    if (now) {
      onContext(start);
    }
    return promise.future();
  }

  private void release() {
    Runnable next;
    synchronized (this) {
      next = waiting.poll();
      if (next == null) {
        running--;
      }
    }
    if (next != null) {
      // The finished task's slot passes straight to the next one.
      context.runOnContext(ignored -> next.run());
    }
  }

  /**
   * Every task starts on the limiter's context: an HTTP request sent from a thread outside Vert.x can
   * have its response end before its {@code body()} is asked for, and that future then never completes.
   */
  private void onContext(Runnable task) {
    if (Vertx.currentContext() == context) {
      task.run();
    } else {
      context.runOnContext(ignored -> task.run());
    }
  }
}
