package dev.quotaproxy.ledger.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class LimiterTest {
  @Test
  void neverMoreThanTheLimitRunAndEveryTaskRuns() throws Exception {
    Vertx vertx = Vertx.vertx();
    try {
      Limiter limiter = new Limiter(vertx.getOrCreateContext(), 3);
      AtomicInteger running = new AtomicInteger();
      AtomicInteger most = new AtomicInteger();
      List<Future<Integer>> tasks = new ArrayList<>();
      for (int i = 0; i < 40; i++) {
        int task = i;
        tasks.add(limiter.submit(() -> {
          most.accumulateAndGet(running.incrementAndGet(), Math::max);
          Promise<Integer> done = Promise.promise();
          vertx.setTimer(1 + task % 3, id -> {
            running.decrementAndGet();
            done.complete(task);
          });
          return done.future();
        }));
      }
      // A task that throws fails its own future and frees its slot.
      Future<Integer> broken = limiter.submit(() -> {
        throw new IllegalStateException("broken");
      });

      Future.join(tasks).await(10, TimeUnit.SECONDS);
      assertThatThrownBy(() -> broken.await(5, TimeUnit.SECONDS)).hasMessageContaining("broken");
      assertThat(tasks).allMatch(Future::succeeded);
      assertThat(most.get()).isEqualTo(3);
      assertThat(limiter.submit(() -> Future.succeededFuture(7)).await(5, TimeUnit.SECONDS)).isEqualTo(7);
    } finally {
      vertx.close().await(10, TimeUnit.SECONDS);
    }
  }
}
