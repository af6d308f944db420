package dev.quotaproxy.metering.schedule;

import static dev.quotaproxy.testing.Eventually.eventually;
import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.AsyncResult;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class PeriodicTest {
  private final Vertx vertx = Vertx.vertx();

  @AfterEach
  void close() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  @Test
  void aPassStillRunningWhenTheNextIsDueIsNotJoinedByAnother() throws Exception {
    AtomicInteger started = new AtomicInteger();
    AtomicReference<Promise<Void>> running = new AtomicReference<>();
    List<AsyncResult<?>> outcomes = new CopyOnWriteArrayList<>();
    vertx.runOnContext(v -> Periodic.every(vertx, 5, () -> {
      started.incrementAndGet();
      Promise<Void> pass = Promise.promise();
      running.set(pass);
      return pass.future();
    }, outcomes::add));

    eventually(Duration.ofSeconds(5), () -> assertThat(started).hasValue(1));
    // Twenty intervals go by while the first pass runs: what is checked is that nothing happens, so
    // there is no event to wait on, only time to let pass.
    Thread.sleep(100);
    assertThat(started).hasValue(1);

    vertx.runOnContext(v -> running.get().fail("Redis went away"));
    eventually(Duration.ofSeconds(5), () -> assertThat(started).hasValue(2));
    assertThat(outcomes).hasSize(1);
    assertThat(outcomes.get(0).cause()).hasMessage("Redis went away");
  }

  @Test
  void nowAndEveryRunsTheFirstPassAtOnceAndAPassThatThrowsCountsAsFailed() throws Exception {
    List<AsyncResult<?>> outcomes = new CopyOnWriteArrayList<>();
    AtomicInteger started = new AtomicInteger();
    vertx.runOnContext(v -> Periodic.nowAndEvery(vertx, 60_000, () -> {
      started.incrementAndGet();
      throw new IllegalStateException("not ready");
    }, outcomes::add));

    eventually(Duration.ofSeconds(5), () -> assertThat(outcomes).hasSize(1));
    assertThat(started).as("before the first interval").hasValue(1);
    assertThat(outcomes.get(0).failed()).isTrue();
  }
}
