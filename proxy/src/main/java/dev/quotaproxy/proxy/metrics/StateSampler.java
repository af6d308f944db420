package dev.quotaproxy.proxy.metrics;

import dev.quotaproxy.metering.sync.LedgerLag;
import dev.quotaproxy.config.SystemSettings;
import dev.quotaproxy.metering.ScopeUsage;
import dev.quotaproxy.metering.SystemUsage;
import dev.quotaproxy.metering.NamespaceGate;
import dev.quotaproxy.metering.RedisLimits;
import dev.quotaproxy.metering.StoreClient;
import dev.quotaproxy.metering.UsageReader;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Redis;
import dev.quotaproxy.ledger.events.DeliveryLog;
import io.vertx.sqlclient.Pool;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Refreshes {@link StateGauges} from Redis and Postgres on a timer, off the request path: a scrape
 * only reads the last values, so it costs the stores nothing and answers at once. Each source is read
 * on its own; one that fails keeps its last values and counts a failure.
 */
public final class StateSampler {
  private static final Logger LOG = LoggerFactory.getLogger(StateSampler.class);
  /** Longest a source may take; a slower one counts as failed, and the next round tries again. */
  private static final long SOURCE_TIMEOUT_MILLIS = 10_000;

  private final Vertx vertx;
  private final StateGauges gauges;
  private final UsageReader usage;
  private final RedisLimits settings;
  private final LedgerLag lag;
  private final LastReconciliations reconciliations;
  private final DeliveryLog deliveries;
  private final Counter redisFailures;
  private final Counter postgresFailures;
  private boolean running;
  private long timer = -1;

  StateSampler(Vertx vertx, MeterRegistry registry, StateGauges gauges, Redis redis, Pool pool) {
    this.vertx = vertx;
    this.gauges = gauges;
    StoreClient client = StoreClient.over(redis);
    // Without the ledger's recovery: a namespace system usage finds unknown is marked new here.
    this.usage = new UsageReader(new NamespaceGate(client));
    this.settings = new RedisLimits(client);
    this.lag = new LedgerLag(redis);
    this.reconciliations = pool == null ? null : new LastReconciliations(pool);
    this.deliveries = pool == null ? null : new DeliveryLog(pool);
    this.redisFailures = failures(registry, "redis");
    this.postgresFailures = failures(registry, "postgres");
  }

  /** The scopes with a hard limit, with their committed usage: only they can be near one. */
  private Future<List<ScopeUsage>> limitedScopes() {
    return usage.scopes().map(scopes -> scopes.stream().filter(scope -> scope.limits().storageHard() >= 0).toList());
  }

  private static Counter failures(MeterRegistry registry, String source) {
    return Counter.builder("quota_proxy.state.sample.failures").tag("source", source)
        .description("Periodic reads of state for the gauges that failed, by store").register(registry);
  }

  /**
   * Samples now and then every {@code interval}, all on one event loop; a round still running when the
   * next is due is not doubled.
   */
  public StateSampler keepSampling(Duration interval) {
    vertx.runOnContext(v -> {
      sample();
      timer = vertx.setPeriodic(interval.toMillis(), id -> sample());
    });
    return this;
  }

  public void stop() {
    vertx.runOnContext(v -> {
      if (timer >= 0) {
        vertx.cancelTimer(timer);
      }
    });
  }

  private void sample() {
    if (running) {
      return;
    }
    running = true;
    sampleOnce().onComplete(done -> running = false);
  }

  /** One round over every source; completes when all are read (or failed). */
  public Future<Void> sampleOnce() {
    Future<?> scopesRead = read("scopes", redisFailures, this::limitedScopes, gauges::scopes);
    Future<?> systemRead = read("system usage", redisFailures,
        () -> usage.systemUsage().compose(system -> settings.systemSettings()
            .map(stored -> new SystemState(system, stored.orElse(SystemSettings.DEFAULTS)))),
        state -> gauges.system(state.usage(), state.settings()));
    Future<?> lagRead = read("ledger lag", redisFailures, lag::measure, gauges::ledgerLag);
    Future<?> driftRead = reconciliations == null
        ? Future.succeededFuture()
        : read("reconciliations", postgresFailures, reconciliations::read, gauges::reconciliations);
    Future<?> webhooksRead = deliveries == null
        ? Future.succeededFuture()
        : read("webhook deliveries", postgresFailures, deliveries::unfinished, gauges::webhookDeliveries);
    return Future.join(scopesRead, systemRead, lagRead, driftRead, webhooksRead).transform(done -> Future.succeededFuture());
  }

  private record SystemState(SystemUsage usage, SystemSettings settings) {}

  private <T> Future<T> read(String what, Counter failures, Supplier<Future<T>> source, Consumer<T> update) {
    Future<T> read;
    try {
      read = source.get().timeout(SOURCE_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
    } catch (RuntimeException e) {
      read = Future.failedFuture(e);
    }
    return read.onSuccess(update::accept).onFailure(e -> {
      failures.increment();
      LOG.debug("metrics: {} not sampled: {}", what, e.toString());
    });
  }
}
