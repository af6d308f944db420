package dev.quotaproxy.proxy.quota;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** What one client may hold of the push path, and what manifests may take of memory, across threads. */
class PushLimitsTest {

  @Test
  void aClientHoldsAtMostItsShareAndGetsItBackAsRequestsEnd() {
    PushLimits limits = new PushLimits(2, 8);

    assertThat(limits.tryEnter("10.0.0.1")).isTrue();
    assertThat(limits.tryEnter("10.0.0.1")).isTrue();
    assertThat(limits.tryEnter("10.0.0.1")).as("a third in flight").isFalse();
    assertThat(limits.tryEnter("10.0.0.2")).as("another client is not held back").isTrue();

    limits.leave("10.0.0.1");
    assertThat(limits.tryEnter("10.0.0.1")).isTrue();
    limits.leave("10.0.0.1");
    limits.leave("10.0.0.1");
    assertThat(limits.inFlight("10.0.0.1")).isZero();
  }

  @Test
  void zeroMeansNoLimitPerClient() {
    PushLimits limits = new PushLimits(0, 8);

    for (int i = 0; i < 1000; i++) {
      assertThat(limits.tryEnter("10.0.0.1")).isTrue();
    }
  }

  @Test
  void theManifestBudgetIsNeverPassed() {
    PushLimits limits = new PushLimits(0, 10);

    assertThat(limits.tryBuffer(6)).isTrue();
    assertThat(limits.tryBuffer(5)).isFalse();
    assertThat(limits.tryBuffer(4)).isTrue();
    limits.unbuffer(6);
    assertThat(limits.buffered()).isEqualTo(4);
  }

  @Test
  void racingRequestsFromOneClientGetExactlyItsShare() throws Exception {
    PushLimits limits = new PushLimits(16, 8);
    ExecutorService threads = Executors.newFixedThreadPool(8);
    try {
      List<Callable<Boolean>> attempts = new ArrayList<>();
      for (int i = 0; i < 200; i++) {
        attempts.add(() -> limits.tryEnter("10.0.0.1"));
      }
      long entered = 0;
      for (Future<Boolean> attempt : threads.invokeAll(attempts)) {
        entered += attempt.get() ? 1 : 0;
      }
      assertThat(entered).isEqualTo(16);
      assertThat(limits.inFlight("10.0.0.1")).isEqualTo(16);
    } finally {
      threads.shutdown();
      threads.awaitTermination(10, TimeUnit.SECONDS);
    }
  }
}
