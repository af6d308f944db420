package dev.quotaproxy.proxy.metrics;

import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.core.instrument.distribution.DistributionStatisticConfig;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.shareddata.LocalMap;
import io.vertx.core.shareddata.Shareable;
import io.vertx.micrometer.Label;
import io.vertx.micrometer.MicrometerMetricsFactory;
import io.vertx.micrometer.MetricsDomain;
import io.vertx.micrometer.MicrometerMetricsOptions;
import io.vertx.redis.client.Redis;
import io.vertx.sqlclient.Pool;
import java.time.Duration;
import java.util.Arrays;
import java.util.EnumSet;

/**
 * The process's metrics: one Prometheus registry that Vert.x reports its own meters to (HTTP server
 * and client, connection pools, the Redis and SQL clients, the JVM) and the proxy its own (requests,
 * rejections, store latency, and the sampled state of {@link StateGauges}). Scraped at {@code /metrics}
 * ({@code MetricsRoutes}).
 *
 * <p>The instance is kept in the Vert.x instance's local shared data, so the parts built per event
 * loop (verticles, stores) find it from the {@link Vertx} they are given: {@link #of(Vertx)}. A Vert.x
 * without one gets {@link #DISCARDED}, whose meters nobody scrapes.
 */
public final class ProxyMetrics implements Shareable {
  private static final String LOCAL_MAP = "quota-proxy.metrics";
  private static final String KEY = "metrics";

  /** A scope has gauges of its own from this share of its hard limit... */
  public static final double NEAR_LIMIT_THRESHOLD = 0.8;
  /** ...and at most this many scopes have them, the fullest. */
  public static final int NEAR_LIMIT_MAX_SCOPES = 20;
  /** How often the state gauges are read from Redis and Postgres. */
  public static final Duration SAMPLE_INTERVAL = Duration.ofSeconds(15);

  /**
   * Vert.x times every Redis command and Postgres query ({@code vertx_redis_processing_time_seconds},
   * {@code vertx_sql_processing_time_seconds}) as a summary; these buckets make them histograms, the
   * same as the store's own timers, so percentiles can be computed across processes.
   */
  private static final MeterFilter STORE_CLIENT_HISTOGRAMS = new MeterFilter() {
    @Override
    public DistributionStatisticConfig configure(Meter.Id id, DistributionStatisticConfig config) {
      String name = id.getName().replace('_', '.');
      if (id.getType() != Meter.Type.TIMER || !name.startsWith("vertx.") || !name.endsWith("processing.time")) {
        return config;
      }
      double[] buckets = Arrays.stream(StoreTimers.BUCKETS).mapToDouble(Duration::toNanos).toArray();
      return DistributionStatisticConfig.builder().serviceLevelObjectives(buckets).build().merge(config);
    }
  };

  /** For a Vert.x started without metrics: counted, never read. Declared after the filter its constructor uses. */
  private static final ProxyMetrics DISCARDED = new ProxyMetrics();

  private final PrometheusMeterRegistry registry;
  private final RequestMeters requests;
  private final StoreTimers redis;
  private StateSampler sampler;

  public ProxyMetrics() {
    this(new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
  }

  public ProxyMetrics(PrometheusMeterRegistry registry) {
    this.registry = registry;
    registry.config().meterFilter(STORE_CLIENT_HISTOGRAMS);
    this.requests = new RequestMeters(registry);
    this.redis = new StoreTimers(registry, "quota_proxy.redis.call.duration");
  }

  /**
   * A Vert.x that reports its own metrics to this registry, with this instance installed for
   * {@link #of(Vertx)}. Its labels are only the status code and the pool type and name: never the
   * request path, which names repositories, nor the method, which a client may make up (any token
   * parses as a method) to add series at will.
   */
  public Vertx vertx(VertxOptions options) {
    return vertx(options, false);
  }

  /**
   * As {@link #vertx(VertxOptions)}; {@code httpRequestMeters} keeps Vert.x's per-request HTTP server and client
   * meters too. They count what {@link RequestMeters} counts, and looking their meters up in the registry on each
   * request cost about a twelfth of the proxy's CPU on small requests.
   */
  public Vertx vertx(VertxOptions options, boolean httpRequestMeters) {
    MicrometerMetricsOptions metrics = new MicrometerMetricsOptions().setEnabled(true).setJvmMetricsEnabled(true)
        .setLabels(EnumSet.of(Label.HTTP_CODE, Label.POOL_TYPE, Label.POOL_NAME));
    if (!httpRequestMeters) {
      metrics.addDisabledMetricsCategory(MetricsDomain.HTTP_SERVER).addDisabledMetricsCategory(MetricsDomain.HTTP_CLIENT);
    }
    options.setMetricsOptions(metrics);
    Vertx vertx = Vertx.builder().with(options).withMetrics(new MicrometerMetricsFactory(registry)).build();
    install(vertx);
    return vertx;
  }

  /** Makes this the instance {@link #of(Vertx)} returns for {@code vertx}. */
  public void install(Vertx vertx) {
    vertx.sharedData().<String, ProxyMetrics>getLocalMap(LOCAL_MAP).put(KEY, this);
  }

  /** The metrics installed on {@code vertx}, or ones nobody reads if none are. */
  public static ProxyMetrics of(Vertx vertx) {
    LocalMap<String, ProxyMetrics> map = vertx.sharedData().getLocalMap(LOCAL_MAP);
    ProxyMetrics installed = map.get(KEY);
    return installed != null ? installed : DISCARDED;
  }

  /** Metrics nobody reads: for parts built without a Vert.x to find them from. */
  public static ProxyMetrics discarded() {
    return DISCARDED;
  }

  public PrometheusMeterRegistry registry() {
    return registry;
  }

  /** Recorded by every exchange when it ends. */
  public RequestMeters requests() {
    return requests;
  }

  /** Latency of Redis calls, timed by the quota store. */
  public StoreTimers redis() {
    return redis;
  }

  /**
   * Starts refreshing the gauges of state (scopes near their limits, the system scope, the ledger's lag,
   * the last reconciliations' drift) from {@code redis} and, unless null, the ledger's {@code pool},
   * every {@link #SAMPLE_INTERVAL}. Once per process. {@link #DISCARDED}, shared by every Vert.x built
   * without metrics (tests start several), samples nothing: nobody reads its gauges.
   */
  public synchronized StateSampler sample(Vertx vertx, Redis redis, Pool pool) {
    if (this == DISCARDED) {
      return null;
    }
    if (sampler != null) {
      throw new IllegalStateException("the state gauges are sampled already");
    }
    StateGauges gauges = new StateGauges(registry, new NearLimitScopes(NEAR_LIMIT_THRESHOLD, NEAR_LIMIT_MAX_SCOPES));
    sampler = new StateSampler(vertx, registry, gauges, redis, pool).keepSampling(SAMPLE_INTERVAL);
    return sampler;
  }
}
