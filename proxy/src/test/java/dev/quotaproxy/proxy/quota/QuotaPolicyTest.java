package dev.quotaproxy.proxy.quota;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.config.ProxyConfig;
import dev.quotaproxy.metering.QuotaStore.Denial;
import dev.quotaproxy.metering.QuotaStore.Reservation;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** A refusal caused only by others' bytes in flight is waited out; a scope that is really full is refused at once. */
class QuotaPolicyTest {
  private final Vertx vertx = Vertx.vertx();
  private final ProxyConfig.Quota settings = ProxyConfig.load(List.of("--upstream", "http://127.0.0.1:5000"), Map.of()).quota();
  private final QuotaPolicy policy = new QuotaPolicy(vertx, null, new SystemGuard(), settings, QuotaEnforcer.pushLimits(settings));

  @AfterEach
  void stop() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  @ParameterizedTest
  @CsvSource({
      // used, reserved, hard, requested, held by this upload, only in flight in the way
      "0,    1000, 1000, 10,  0,   true",
      "990,  10,   1000, 10,  0,   true",
      "991,  9,    1000, 10,  0,   false",
      "0,    1000, 1000, 10,  995, false",
      "0,    1000, 1000, 10,  990, true",
      "999,  1,    1000, 0,   0,   true",
      "1000, 0,    1000, 0,   0,   false"})
  void tellsOthersBytesInFlightFromAFullScope(long used, long reserved, long hard, long requested, long held, boolean inFlight) {
    assertThat(QuotaPolicy.onlyInFlightInTheWay(new Denial("acme", used, reserved, hard, requested, held))).isEqualTo(inFlight);
  }

  @Test
  void aRefusalDueToOthersInFlightIsRetriedUntilItFits() throws Exception {
    Queue<Reservation> answers = new ArrayDeque<>(List.of(
        new Reservation(0, new Denial("acme", 0, 1000, 1000, 100, 0)),
        new Reservation(0, new Denial("acme", 500, 500, 1000, 100, 0)),
        new Reservation(100, null)));
    AtomicInteger attempts = new AtomicInteger();

    Reservation outcome = policy.reserveThroughContention(() -> {
      attempts.incrementAndGet();
      return Future.succeededFuture(answers.remove());
    }).await(10, TimeUnit.SECONDS);

    assertThat(outcome.granted()).isTrue();
    assertThat(attempts).hasValue(3);
  }

  @Test
  void aRefusalByCommittedUsageIsFinalAtOnce() throws Exception {
    AtomicInteger attempts = new AtomicInteger();
    Denial full = new Denial("acme", 950, 0, 1000, 100, 0);

    Reservation outcome = policy.reserveThroughContention(() -> {
      attempts.incrementAndGet();
      return Future.succeededFuture(new Reservation(0, full));
    }).await(10, TimeUnit.SECONDS);

    assertThat(outcome.denial()).isEqualTo(full);
    assertThat(attempts).hasValue(1);
  }
}
