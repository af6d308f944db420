package dev.quotaproxy.proxy.metrics;

import dev.quotaproxy.metering.CallTimer;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.vertx.core.Future;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Latency of the calls to one store, timed where every call passes (the store's one guarded entry),
 * labelled by the store operation (a method name, a fixed set) and whether it succeeded. A failed call
 * includes those cut off by the call timeout, so a Redis that hangs shows as slow failures here.
 */
public final class StoreTimers implements CallTimer {
  static final Duration[] BUCKETS = {
      Duration.ofNanos(250_000), Duration.ofNanos(500_000), Duration.ofMillis(1), Duration.ofMillis(2), Duration.ofMillis(5),
      Duration.ofMillis(10), Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250),
      Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofSeconds(2), Duration.ofSeconds(5)};

  private final MeterRegistry registry;
  private final String name;
  /** Operation to {ok, failed} timers; keyed by the callers' string constants, so a lookup allocates nothing. */
  private final ConcurrentMap<String, Timer[]> timers = new ConcurrentHashMap<>();

  StoreTimers(MeterRegistry registry, String name) {
    this.registry = registry;
    this.name = name;
  }

  @Override
  public <T> Future<T> time(String operation, Supplier<Future<T>> call) {
    Timer[] pair = timers.computeIfAbsent(operation, this::register);
    long start = System.nanoTime();
    return call.get().andThen(done -> (done.succeeded() ? pair[0] : pair[1]).record(System.nanoTime() - start, TimeUnit.NANOSECONDS));
  }

  private Timer[] register(String operation) {
    return new Timer[] {timer(operation, "ok"), timer(operation, "failed")};
  }

  private Timer timer(String operation, String outcome) {
    return Timer.builder(name).tag("operation", operation).tag("outcome", outcome).serviceLevelObjectives(BUCKETS)
        .description("Latency of store calls, by operation and outcome").register(registry);
  }
}
