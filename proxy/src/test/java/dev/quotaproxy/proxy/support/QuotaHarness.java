package dev.quotaproxy.proxy.support;

import dev.quotaproxy.metering.support.StoreOnRedis;
import dev.quotaproxy.metering.support.TestRedis;
import static dev.quotaproxy.testing.Eventually.await;

import dev.quotaproxy.config.ProxyConfig;
import dev.quotaproxy.ledger.EmbeddedPostgresServer;
import dev.quotaproxy.ledger.Ledger;
import dev.quotaproxy.ledger.support.RealRegistry;
import dev.quotaproxy.proxy.ProxyVerticle;
import dev.quotaproxy.metering.sync.EventOutbox;
import dev.quotaproxy.metering.sync.LedgerFeed;
import dev.quotaproxy.metering.sync.LedgerRecovery;
import dev.quotaproxy.metering.sync.RedisStateWatch;
import dev.quotaproxy.proxy.metrics.ProxyMetrics;
import dev.quotaproxy.proxy.quota.ConfiguredQuotas;
import dev.quotaproxy.metering.EmittedEvents;
import dev.quotaproxy.metering.LiveReservations;
import dev.quotaproxy.proxy.quota.QuotaEnforcer;
import dev.quotaproxy.metering.QuotaStore;
import dev.quotaproxy.metering.QuotaStore.ScopeState;
import dev.quotaproxy.proxy.quota.SystemGuard;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.redis.client.Redis;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The proxy with quotas on, between a test and a real registry, metering in a real Redis: what a user
 * runs, on one event loop. Limits come from a YAML file, as an operator writes them.
 */
public final class QuotaHarness implements AutoCloseable {
  private final RealRegistry registry;
  private final TestRedis redis;
  /** Vert.x reports to these, and the proxies started here record into them, as in the real process. */
  private final ProxyMetrics metrics = new ProxyMetrics();
  // Native epoll, as the proxy runs: blob pulls of 1 MiB or more are spliced (ZeroCopyTest).
  private final Vertx vertx = metrics.vertx(new VertxOptions().setPreferNativeTransport(true));
  private final Path dir;
  private final List<Deployed> proxies = new ArrayList<>();
  private LedgerSide ledger;

  /** The ledger behind the proxies, when {@link #withLedger()} was called: Postgres, the feed, the recovery. */
  public record LedgerSide(EmbeddedPostgresServer postgres, Ledger ledger, LedgerFeed feed, LedgerRecovery recovery,
      RedisStateWatch watch, EventOutbox outbox) {}

  /** One proxy instance: its client, its store's parts, the refresh that feeds its read-only switch, and what fills Redis. */
  public record Deployed(OciTestClient client, StoreOnRedis stores, ConfiguredQuotas configured, ConfigurationFill fill) {
    /** The store its requests decide with. */
    public QuotaStore store() {
      return stores.store();
    }
  }

  public QuotaHarness() throws IOException, InterruptedException {
    this(RealRegistry.start());
  }

  /** Around a registry started by the caller (one with auth, say); it is closed with the harness. */
  public QuotaHarness(RealRegistry registry) throws IOException {
    this.registry = registry;
    try {
      this.redis = TestRedis.start();
      this.dir = Files.createTempDirectory("quota-harness");
    } catch (RuntimeException | IOException e) {
      // No half-built harness: a registry started here must not outlive the failed start.
      registry.close();
      vertx.close();
      throw e;
    }
  }

  /**
   * Puts a ledger in a real Postgres behind the proxies started after this: their stores restore
   * unknown namespaces from it. The feed is not started; tests drive it ({@link LedgerFeed#feedOnce()}).
   */
  public LedgerSide withLedger(Path postgresData, int port) throws IOException {
    EmbeddedPostgresServer postgres = EmbeddedPostgresServer.start(postgresData, port, false);
    postgres.database().migrate();
    Ledger ledgerOnPostgres = new Ledger(postgres.database().pool(vertx, 4));
    Redis client = Redis.createClient(vertx, redis.url());
    EventOutbox outbox = new EventOutbox(client, ledgerOnPostgres);
    // As the proxy's: a restored namespace gets its limits again, here the proxies' configured ones.
    LedgerRecovery recovery = new LedgerRecovery(vertx, client, ledgerOnPostgres, outbox, this::configuredLimits);
    ledger = new LedgerSide(postgres, ledgerOnPostgres, new LedgerFeed(vertx, client, ledgerOnPostgres, 500, recovery::restoreFromLedger),
        recovery,
        new RedisStateWatch(client, ledgerOnPostgres, recovery), outbox);
    return ledger;
  }

  private Future<Void> configuredLimits(String namespace) {
    List<Future<Void>> writes = new ArrayList<>();
    proxies.forEach(proxy -> writes.add(proxy.fill().limitsOf(namespace)));
    return Future.all(writes).mapEmpty();
  }

  public Vertx vertx() {
    return vertx;
  }

  public ProxyMetrics metrics() {
    return metrics;
  }

  public RealRegistry registry() {
    return registry;
  }

  public TestRedis redis() {
    return redis;
  }

  /** A client straight to the registry, bypassing the proxy. */
  public OciTestClient direct() {
    return new OciTestClient(registry.url());
  }

  /**
   * Starts a proxy with the given YAML (limits under quota.scopes, system settings) and extra flags.
   * Its configured limits are written and system usage read before this returns.
   */
  public Deployed startProxy(String yaml, String... flags) throws Exception {
    Path config = Files.writeString(Files.createTempFile(dir, "config", ".yaml"), yaml);
    List<String> args = new ArrayList<>(List.of("--config", config.toString(), "--upstream", registry.url(),
        "--host", "127.0.0.1", "--port", "0", "--proxy.event-loops", "1", "--redis.url", redis.url()));
    args.addAll(List.of(flags));
    ProxyConfig proxyConfig = ProxyConfig.load(args, Map.of());
    ProxyConfig.Quota quota = proxyConfig.quota();
    // As the proxy's: requests' reservations are leases this proxy renews, re-created if Redis loses them.
    StoreOnRedis stores = StoreOnRedis.open(vertx, redis.url(), 8, quota.reservationTtl(),
        ledger == null ? EmittedEvents.NONE : ledger.outbox(), new LiveReservations(), ledger == null ? null : ledger.recovery(),
        metrics.redis());
    stores.leases().keepRenewing(vertx);
    SystemGuard guard = new SystemGuard();
    ConfigurationFill fill = new ConfigurationFill(stores.limits(), proxyConfig);
    ConfiguredQuotas configured = new ConfiguredQuotas(stores.limits(), stores.usage(), proxyConfig, guard, fill::all, "the configuration");
    await(configured.apply());
    await(configured.refresh());
    ProxyVerticle verticle = new ProxyVerticle(proxyConfig,
        v -> new QuotaEnforcer(v, stores.store(), guard, quota, QuotaEnforcer.pushLimits(quota)));
    await(vertx.deployVerticle(verticle));
    Deployed deployed = new Deployed(new OciTestClient("http://127.0.0.1:" + verticle.actualPort()), stores, configured, fill);
    proxies.add(deployed);
    return deployed;
  }

  /** A scope's committed and reserved bytes, with its limits. */
  public ScopeState scope(QuotaStore store, String scope) throws Exception {
    return await(store.scope(scope));
  }

  @Override
  public void close() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
    if (ledger != null) {
      ledger.postgres().close();
    }
    redis.close();
    registry.close();
    try (var files = Files.walk(dir)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
    }
  }
}
