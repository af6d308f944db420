package dev.quotaproxy.proxy.quota;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.config.ProxyConfig;
import dev.quotaproxy.config.SystemSettings;
import dev.quotaproxy.metering.SystemUsage;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.Map;

/**
 * What an operation rule runs on in its unit tests: a recording store, a system guard (writable unless a
 * test says otherwise), the push path's limits, and the {@link QuotaPolicy} over them.
 *
 * <p>The policy needs a Vertx only for the timers of its contention retries; a test that does not make a
 * rule wait out others' bytes in flight leaves {@link #vertx} null, so a retry it did not expect fails it.
 */
final class RuleFixture {
  static final long CHUNK_RESERVATION = 64 * 1024;
  static final long MANIFEST_BUFFER = 8L * 1024 * 1024;

  final FakeQuotaStore store = new FakeQuotaStore();
  final SystemGuard system = new SystemGuard();
  final PushLimits pushes = new PushLimits(4, MANIFEST_BUFFER);
  boolean failOpen;
  Vertx vertx;

  RuleFixture() {
    system.update(new SystemUsage(0, 0), SystemSettings.DEFAULTS);
  }

  /** An administrator set the registry read-only. */
  RuleFixture readOnly() {
    system.update(new SystemUsage(10, 0), new SystemSettings(-1, 1.0, true, false, 30));
    return this;
  }

  /** System usage is not summed yet (at start, or after the store lost its data). */
  RuleFixture systemUsageUnknown() {
    system.unknown();
    return this;
  }

  RuleFixture failOpen() {
    failOpen = true;
    return this;
  }

  QuotaPolicy policy() {
    return new QuotaPolicy(vertx, store, system, quota(failOpen, pushes.maxPerClient()), pushes);
  }

  /** The quota settings the rules read: chunk reservation, fail-open, the push path's guards. */
  static ProxyConfig.Quota quota(boolean failOpen, int maxPushesPerClient) {
    ProxyConfig.PushGuards guards = new ProxyConfig.PushGuards(Duration.ofSeconds(10), Duration.ofSeconds(30),
        MANIFEST_BUFFER, 100, maxPushesPerClient);
    return new ProxyConfig.Quota(true, failOpen, Duration.ofHours(1), CHUNK_RESERVATION,
        new ProxyConfig.SystemQuota(-1, 1.0, false, Duration.ofSeconds(5)), Map.of(), guards);
  }

  /** The result of a future the fakes completed synchronously. */
  static <T> T done(Future<T> future) {
    assertThat(future.isComplete()).as("complete").isTrue();
    if (future.failed()) {
      throw new AssertionError("failed: " + future.cause(), future.cause());
    }
    return future.result();
  }
}
