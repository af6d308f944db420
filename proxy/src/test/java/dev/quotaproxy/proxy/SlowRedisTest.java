package dev.quotaproxy.proxy;

import static dev.quotaproxy.proxy.support.OciTestClient.randomBytes;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.proxy.support.OciTestClient.Reply;
import dev.quotaproxy.proxy.support.ProxyFixture;
import dev.quotaproxy.proxy.support.ScopeWatch;
import dev.quotaproxy.proxy.support.StorageInvariant;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Slow is not down: Redis answering in seconds (paused with {@code CLIENT PAUSE}, so every command waits,
 * as on a swapping or overloaded Redis). Pushes get 503 within the store's call timeout instead of
 * hanging, nothing they may have reserved is left held, and pushes work again as soon as Redis answers.
 */
class SlowRedisTest {
  private static final int KiB = 1024;
  private static final Duration PAUSE = Duration.ofSeconds(3);

  @RegisterExtension final ProxyFixture proxy = ProxyFixture.acme("10MiB");

  @BeforeEach
  void warm() throws Exception {
    assertThat(proxy.client().pushBlob("acme/warm", randomBytes(KiB)).status()).isEqualTo(201);
  }

  @Test
  void pushesFailFastWhileRedisIsSlowHoldNothingAndWorkAgainWhenItIsFast() throws Exception {
    ExecutorService clients = Executors.newFixedThreadPool(10);
    try (ScopeWatch watch = ScopeWatch.start(proxy.harness().vertx(), proxy.harness().redis().url(), proxy.store(), "acme")) {
      proxy.harness().redis().command(Request.cmd(Command.CLIENT).arg("PAUSE").arg(PAUSE.toMillis()).arg("ALL"));
      long pausedAt = System.nanoTime();
      List<Future<Timed>> pushes = new ArrayList<>();
      for (int i = 0; i < 10; i++) {
        int n = i;
        pushes.add(clients.submit(() -> {
          long started = System.nanoTime();
          Reply reply = proxy.client().pushBlob("acme/app" + n, randomBytes(100 * KiB));
          return new Timed(reply.status(), Duration.ofNanos(System.nanoTime() - started));
        }));
      }
      List<Timed> outcomes = new ArrayList<>();
      for (Future<Timed> push : pushes) {
        Timed timed = push.get();
        outcomes.add(timed);
        assertThat(timed.status()).as("a push while Redis answers in %s", PAUSE).isIn(201, 503);
        assertThat(timed.took()).as("no push waits for Redis much past the store's 2 s timeout per call").isLessThan(Duration.ofSeconds(8));
      }

      System.out.printf("SlowRedisTest: pushes while Redis was paused: %s%n", outcomes);
      assertThat(outcomes).as("refused while Redis could not answer in time").anyMatch(timed -> timed.status() == 503);
      watch.awaitNothingReserved("acme", Duration.ofSeconds(10));
      Duration sincePause = Duration.ofNanos(System.nanoTime() - pausedAt);
      Reply after = proxy.client().pushBlob("acme/after", randomBytes(100 * KiB));
      assertThat(after.status()).as("a push once Redis answers again").isEqualTo(201);
      System.out.printf("SlowRedisTest: nothing reserved and pushes accepted %d ms after a %d ms pause began%n",
          Duration.ofNanos(System.nanoTime() - pausedAt).toMillis(), PAUSE.toMillis());
      assertThat(sincePause).as("recovered within seconds of Redis being fast again").isLessThan(PAUSE.plusSeconds(8));
    } finally {
      clients.shutdownNow();
    }
    StorageInvariant.check(proxy.harness().registry().storage(), proxy.stores());
  }

  private record Timed(int status, Duration took) {}
}
