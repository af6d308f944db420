package dev.quotaproxy.testing;

import static dev.quotaproxy.testing.Eventually.await;
import static dev.quotaproxy.testing.Eventually.eventually;
import static dev.quotaproxy.testing.Eventually.eventuallyGet;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.Future;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class EventuallyTest {
  @Test
  void retriesAFailingAssertionUntilItPasses() throws Exception {
    AtomicInteger tries = new AtomicInteger();
    eventually(Duration.ofSeconds(5), Duration.ofMillis(1), () -> assertThat(tries.incrementAndGet()).isEqualTo(3));
    assertThat(tries).hasValue(3);
  }

  @Test
  void throwsTheLastFailureOnceTheTimeIsUp() {
    AtomicInteger tries = new AtomicInteger();
    assertThatThrownBy(() -> eventually(Duration.ofMillis(50), Duration.ofMillis(5),
        () -> assertThat(tries.incrementAndGet()).as("try").isNegative()))
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("[try]")
        .satisfies(e -> assertThat(e.getSuppressed()).singleElement().isInstanceOf(TimeoutException.class));
    assertThat(tries.get()).isGreaterThan(1);
  }

  @Test
  void anythingButAnAssertionEndsTheWaitAtOnce() {
    AtomicInteger tries = new AtomicInteger();
    assertThatThrownBy(() -> eventually(Duration.ofSeconds(5), () -> {
      tries.incrementAndGet();
      throw new IOException("the process exited");
    })).isInstanceOf(IOException.class);
    assertThat(tries).hasValue(1);
  }

  @Test
  void yieldsTheValueOfTheFirstStepThatPasses() throws Exception {
    AtomicInteger tries = new AtomicInteger();
    String value = eventuallyGet(Duration.ofSeconds(5), Duration.ofMillis(1), () -> {
      assertThat(tries.incrementAndGet()).isGreaterThan(1);
      return "found";
    });
    assertThat(value).isEqualTo("found");
  }

  @Test
  void awaitGivesAFutureResultOrItsFailure() {
    assertThat(await(Future.succeededFuture(7))).isEqualTo(7);
    assertThatThrownBy(() -> await(Future.failedFuture(new IllegalStateException("refused")))).hasMessage("refused");
  }
}
