package dev.quotaproxy.proxy;

import dev.quotaproxy.admin.AdminApi;
import dev.quotaproxy.admin.AdminRoutes;
import dev.quotaproxy.admin.AdminTokens;
import dev.quotaproxy.admin.console.ConsoleRoutes;
import dev.quotaproxy.admin.QuotaControl;
import dev.quotaproxy.admin.limits.LimitsRoutes;
import dev.quotaproxy.admin.limits.SystemRoutes;
import dev.quotaproxy.admin.reports.ReportRoutes;
import dev.quotaproxy.config.ConfigurationException;
import dev.quotaproxy.config.ProxyConfig;
import dev.quotaproxy.admin.events.WebhookRoutes;
import dev.quotaproxy.ledger.Ledger;
import dev.quotaproxy.ledger.events.DeliveryLog;
import dev.quotaproxy.ledger.events.WebhookWorker;
import dev.quotaproxy.ledger.Reconciler;
import dev.quotaproxy.ledger.Retention;
import dev.quotaproxy.ledger.limits.LimitsLedger;
import dev.quotaproxy.ledger.registry.RegistryWalker;
import dev.quotaproxy.ledger.registry.WalkerOptions;
import dev.quotaproxy.proxy.control.RedisQuotaControl;
import dev.quotaproxy.metering.sync.EventOutbox;
import dev.quotaproxy.metering.sync.LedgerBinding;
import dev.quotaproxy.metering.sync.LedgerFeed;
import dev.quotaproxy.metering.sync.LedgerRecovery;
import dev.quotaproxy.metering.sync.LimitsChannel;
import dev.quotaproxy.metering.sync.LimitsSync;
import dev.quotaproxy.metering.sync.ReconcileAfterLoss;
import dev.quotaproxy.metering.sync.Reconciliations;
import dev.quotaproxy.metering.sync.RedisStateWatch;
import dev.quotaproxy.metering.sync.RegistryIntents;
import dev.quotaproxy.proxy.http.AccessLogWriter;
import dev.quotaproxy.proxy.metrics.MetricsRoutes;
import dev.quotaproxy.proxy.metrics.ProxyMetrics;
import dev.quotaproxy.proxy.metrics.Readiness;
import dev.quotaproxy.proxy.quota.ConfiguredQuotas;
import dev.quotaproxy.metering.EgressLimits;
import dev.quotaproxy.metering.EvictionPolicy;
import dev.quotaproxy.metering.LiveReservations;
import dev.quotaproxy.proxy.quota.PushLimits;
import dev.quotaproxy.proxy.quota.QuotaEnforcer;
import dev.quotaproxy.proxy.quota.QuotaRules;
import dev.quotaproxy.metering.NamespaceGate;
import dev.quotaproxy.metering.RedisLimits;
import dev.quotaproxy.metering.RedisClients;
import dev.quotaproxy.metering.RedisQuotaStore;
import dev.quotaproxy.metering.SeenSequences;
import dev.quotaproxy.metering.RequestLeases;
import dev.quotaproxy.metering.StoreClient;
import dev.quotaproxy.metering.UsageReader;
import dev.quotaproxy.proxy.quota.SystemGuard;
import io.vertx.core.DeploymentOptions;
import io.micrometer.core.instrument.FunctionCounter;
import io.vertx.core.Future;
import io.vertx.core.ThreadingModel;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.HttpServer;
import io.vertx.redis.client.Redis;
import io.vertx.sqlclient.Pool;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code java -jar quota-proxy.jar --upstream http://127.0.0.1:5000 --port 8080}.
 *
 * <p>Over 350 lines: it is the wiring, every part built and started in the one order that is safe (limits
 * before the listener, the recovery before the gates that use it), which reads best in one place.
 */
public final class QuotaProxyMain {
  private static final java.util.Set<String> JOBS = java.util.Set.of("backfill", "reconcile");
  /** How often Redis's state is checked against the ledger's, besides the check every decision makes. */
  private static final long STATE_WATCH_MILLIS = 5_000;
  /**
   * How often every limit and the system settings are written from Postgres to Redis again: the bound
   * on how long a change whose Redis write was lost (crash, Redis down) takes to reach every proxy.
   */
  static final Duration LIMITS_SYNC_INTERVAL = Duration.ofSeconds(10);
  /** How often each event loop writes the traffic counters it added up: what a crash can lose of them. */
  static final Duration TRAFFIC_FLUSH = Duration.ofMillis(250);
  private static final Logger LOG = LoggerFactory.getLogger(QuotaProxyMain.class);

  private QuotaProxyMain() {}

  public static void main(String[] args) {
    List<String> arguments = Arrays.asList(args);
    String job = null;
    if (!arguments.isEmpty() && JOBS.contains(arguments.get(0))) {
      job = arguments.get(0);
      arguments = arguments.subList(1, arguments.size());
    }
    if (arguments.contains("--help") || arguments.contains("-h")) {
      System.out.println("Usage: java -jar quota-proxy.jar [backfill|reconcile] --upstream URL [--port PORT] [settings...]\n");
      System.out.println("  backfill   fill the ledger from a registry that already holds images, then exit");
      System.out.println("  reconcile  compare Redis with the ledger and the ledger with the registry, correct both, then exit\n");
      System.out.println(ProxyConfig.loader().help());
      return;
    }
    ProxyConfig config;
    try {
      config = ProxyConfig.load(arguments, System.getenv());
    } catch (ConfigurationException e) {
      System.err.println("quota-proxy: " + e.getMessage());
      System.err.println("Run with --help to see every setting.");
      System.exit(2);
      return;
    }
    if (job != null) {
      System.exit(runJob(job, config));
      return;
    }
    Backends backends = null;
    if (!config.quota().enabled()) {
      LOG.info("quota.enabled is false: forwarding only, nothing is metered");
    } else {
      try {
        backends = Backends.start(config);
      } catch (IOException | RuntimeException e) {
        System.err.println("quota-proxy: the quota stores could not start: " + e.getMessage());
        System.exit(1);
        return;
      }
    }
    // Vert.x reports its own meters to the proxy's registry; the parts built per event loop find it with ProxyMetrics.of(vertx).
    Vertx vertx = new ProxyMetrics().vertx(new VertxOptions().setEventLoopPoolSize(config.eventLoops()).setPreferNativeTransport(true),
        config.admin().vertxHttpMetrics());
    FunctionCounter.builder("quota_proxy.access_log.dropped.lines", AccessLogWriter.class, writer -> AccessLogWriter.droppedLines())
        .description("Access-log lines dropped because standard output did not keep up (its queue of batches was full)")
        .register(ProxyMetrics.of(vertx).registry());
    Future<String> deployed = backends == null
        ? start(vertx, config, v -> QuotaRules.NONE).compose(id -> startAdmin(vertx, config, AdminDependencies.none(vertx, config)).map(id))
        : start(vertx, config, backends);
    deployed.onComplete(started -> {
      if (started.failed()) {
        LOG.error("quota-proxy could not start: {}", started.cause().getMessage());
        vertx.close().onComplete(v -> System.exit(1));
        return;
      }
      LOG.info("quota-proxy listening on {}://{}:{}, forwarding to {} with {} event loops ({} transport)",
          config.listen().scheme(), config.listen().host(), config.listen().port(), config.upstream().origin(), config.eventLoops(),
          vertx.isNativeTransportEnabled() ? "native epoll" : "NIO");
    });
    Backends ownBackends = backends;
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        if (ownBackends != null) {
          ownBackends.close();
        }
      } catch (Exception e) {
        // Exiting anyway; in-flight transfers are cut and their clients retry.
      }
    }, "quota-proxy-shutdown"));
  }

  /**
   * Writes the configured limits to the store, keeps system usage refreshed, and deploys one proxy
   * verticle per event loop, each with its own store connections. A store that cannot be reached
   * does not stop the start: pulls work, pushes get 503 until it is back.
   */
  static Future<String> start(Vertx vertx, ProxyConfig config, Backends backends) {
    RedisClients redisClients = backends.redis;
    ProxyConfig.Quota quota = config.quota();
    SystemGuard guard = new SystemGuard();
    int connectionsPerLoop = Math.max(1, config.redis().poolSize() / config.eventLoops());

    Ledger ledger = new Ledger(backends.ledgerDatabase.pool(vertx, config.ledger().poolSize()));
    // The feed, the state watch, the outbox, restores and settlements share it; on a Cluster each of their calls over
    // many namespaces takes a connection per node, and Vert.x's default wait queue of 24 overflowed under load.
    Redis ledgerRedis = redisClients.create(vertx, redisClients.options().setMaxPoolSize(8).setMaxPoolWaiting(1024).setPoolName("ledger"));
    EventOutbox outbox = new EventOutbox(ledgerRedis, ledger).measuredIn(ProxyMetrics.of(vertx).registry());
    LiveReservations live = new LiveReservations().measuredIn(ProxyMetrics.of(vertx).registry());
    // One floor of event numbers for the whole process (see SeenSequences), whichever client saw them.
    SeenSequences seen = new SeenSequences();
    StoreClient maintenance = StoreClient.create(vertx, redisClients, 2, outbox, ProxyMetrics.of(vertx).redis(), seen);
    // Which scopes have an egress limit, known in this process: pulls into the others never wait on Redis.
    EgressLimits egressLimits = new EgressLimits();
    RedisLimits redisLimits = new RedisLimits(maintenance, egressLimits);
    Pool adminPool = backends.ledgerDatabase.pool(vertx, 2);
    LimitsLedger limits = new LimitsLedger(adminPool);
    LimitsSync limitsSync = new LimitsSync(limits, redisLimits, config, egressLimits);
    // The recovery writes limits, which pass no gate: so it is built first, and every gate is built with it.
    LedgerRecovery recovery = new LedgerRecovery(vertx, ledgerRedis, ledger, outbox, limitsSync::syncNamespace);
    NamespaceGate maintenanceGate = new NamespaceGate(maintenance, recovery);
    UsageReader usage = new UsageReader(maintenanceGate);
    // Redis is (re)filled from Postgres, the record of limits set by the file and through the admin API.
    ConfiguredQuotas configured = new ConfiguredQuotas(redisLimits, usage, config, guard, limitsSync::syncOnce, "the ledger");
    PushLimits pushes = QuotaEnforcer.pushLimits(quota);
    Function<Vertx, QuotaRules> rules = v -> {
      RedisQuotaStore store = new RedisQuotaStore(new NamespaceGate(
          StoreClient.create(v, redisClients, connectionsPerLoop, outbox, ProxyMetrics.of(v).redis(), seen), recovery),
          quota.reservationTtl(), live).meteringLocally(egressLimits);
      // Traffic counters go to Redis in one call per repository, user and hour each flush, not per request.
      v.setPeriodic(TRAFFIC_FLUSH.toMillis(), id -> store.flush());
      return new QuotaEnforcer(v, store, guard, quota, pushes);
    };

    // Limits first, then the listener: a push in between would be measured against no limit. A store
    // that cannot be reached fails this within its call timeout; the refresh writes them once it is back.
    return maintenance.loadScripts().timeout(5, TimeUnit.SECONDS)
        .recover(e -> {
          if (e.getMessage() != null && e.getMessage().startsWith("ERR")) {
            // Redis answered, and refused a script: no decision could be made, so do not start.
            return Future.failedFuture(new IllegalStateException("Redis refused a quota script: " + e.getMessage(), e));
          }
          // Unreachable: each call loads its script itself (the NOSCRIPT fallback) once Redis is back.
          LOG.error("quota scripts not loaded, quota store unreachable: {}", e.toString());
          return Future.succeededFuture();
        })
        .compose(loaded -> EvictionPolicy.check(ledgerRedis).recover(e -> e instanceof EvictionPolicy.EvictingRedisException
            ? Future.failedFuture(e)
            // Unreachable: checked again by the state watch once it is back.
            : Future.succeededFuture()))
        .compose(checked -> recovery.bindRedis().recover(e -> e instanceof LedgerBinding.OtherLedgerException
            ? Future.failedFuture(e)
            // Unreachable: the state watch and every restore check again once it is back.
            : Future.succeededFuture()))
        .compose(bound -> limitsSync.seed()
            .onFailure(
                e -> LOG.error("configured limits not recorded in the ledger yet, Postgres unreachable (retried with every sync): {}",
                    e.toString()))
            .otherwiseEmpty())
        .compose(seeded -> configured.apply()
            .onFailure(e -> LOG.error("configured limits not written yet, quota store unreachable: {}", e.toString()))
            .otherwiseEmpty())
        .compose(applied -> {
          configured.keepRefreshed(vertx);
          limitsSync.keepSyncing(vertx, LIMITS_SYNC_INTERVAL);
          // Limits written by any proxy, announced on qp:limits: this one's view of egress limits follows at once.
          new LimitsChannel(vertx, redisClients, egressLimits).start();
          new LedgerFeed(vertx, ledgerRedis, ledger, config.ledger().batchSize(), recovery::restoreFromLedger).start();
          // Quota events the ledger records go out as webhooks from here, off the request path (a pool of its own).
          new WebhookWorker(vertx, backends.ledgerDatabase.pool(vertx, 2), config.events()).start();
          new RedisStateWatch(ledgerRedis, ledger, recovery).keepWatching(vertx, STATE_WATCH_MILLIS);
          outbox.keepChecking(vertx, recovery::restoreFromLedger);
          RequestLeases leases = new RequestLeases(maintenance, live, quota.reservationTtl());
          leases.keepRenewing(vertx);
          new RegistryIntents(new RedisQuotaStore(maintenanceGate, quota.reservationTtl(), live), leases, ledgerRedis,
              RegistryIntents.headOn(vertx.createHttpClient(ProxyVerticle.upstreamOptions(config.upstream())))).keepChecking(vertx);
          // The recorded setting, which the admin API may have changed since the file's was seeded.
          keepRollingUp(vertx, new Retention(backends.ledgerDatabase.pool(vertx, 1)), () -> limits.settings()
              .map(recorded -> recorded.settings().retentionDays()).otherwise(config.ledger().retentionDays()));
          Reconciliations reconciliations = reconciliations(vertx, config, backends, ledgerRedis, ledger, recovery);
          reconciliations.keepReconciling(vertx, config.ledger().reconcileInterval());
          if (!config.ledger().reconcileAfterLoss().isZero()) {
            recovery.followLosses(new ReconcileAfterLoss(vertx, config.ledger().reconcileAfterLoss(), reconciliations::both)::lost);
          }
          backfillAnEmptyLedger(ledger, reconciliations);
          QuotaControl control = new RedisQuotaControl(usage, redisLimits, recovery, reconciliations);
          Pool probePool = backends.ledgerDatabase.pool(vertx, 1);
          ProxyMetrics.of(vertx).sample(vertx, ledgerRedis, probePool);
          Readiness readiness = upstreamReadiness(vertx, config)
              .check("redis", Readiness.redis(ledgerRedis))
              .check("postgres", Readiness.postgres(probePool));
          // Reports have a pool of their own: a long CSV download holds a connection for its whole length.
          AdminDependencies admin = new AdminDependencies(vertx, config, adminPool, limits, control,
              backends.ledgerDatabase.pool(vertx, 2), readiness);
          // System usage is unknown until a refresh has summed it (pushes would get 503): the first one, before listening.
          return configured.refresh().timeout(10, TimeUnit.SECONDS).otherwiseEmpty()
              .compose(refreshed -> start(vertx, config, rules))
              .compose(id -> startAdmin(vertx, config, admin).map(id));
        });
  }

  /**
   * What the admin API's parts are built from. Quota side (pool, limits, control) is null when quotas
   * are off: no Redis, no Postgres.
   */
  record AdminDependencies(Vertx vertx, ProxyConfig config, Pool ledgerPool, LimitsLedger limits, QuotaControl quota,
      Pool reportPool, Readiness readiness) {
    static AdminDependencies none(Vertx vertx, ProxyConfig config) {
      return new AdminDependencies(vertx, config, null, null, null, null, upstreamReadiness(vertx, config));
    }
  }

  /** Readiness with its upstream check; the quota stores' checks are added when there are stores. */
  static Readiness upstreamReadiness(Vertx vertx, ProxyConfig config) {
    return new Readiness().check("upstream",
        Readiness.upstream(vertx.createHttpClient(ProxyVerticle.upstreamOptions(config.upstream()))));
  }

  /** Every part of the admin API, in one place: add a part here and the listener and the wiring test see it. */
  static List<AdminRoutes> adminParts(AdminDependencies deps) {
    List<AdminRoutes> parts = new ArrayList<>();
    parts.add(new MetricsRoutes(ProxyMetrics.of(deps.vertx()), deps.readiness()));
    if (deps.quota() != null) {
      parts.add(new LimitsRoutes(deps.limits(), deps.quota()));
      parts.add(new SystemRoutes(deps.limits(), deps.quota()));
      parts.add(new ReportRoutes(deps.vertx(), deps.reportPool()));
      parts.add(new WebhookRoutes(new DeliveryLog(deps.ledgerPool())));
      parts.add(new ConsoleRoutes());
    }
    return parts;
  }

  /** The admin listener on admin.host:admin.port (none when the port is -1); its address is logged with the port it bound. */
  static Future<HttpServer> startAdmin(Vertx vertx, ProxyConfig config, AdminDependencies deps) {
    ProxyConfig.Admin admin = config.admin();
    if (!admin.enabled()) {
      LOG.info("admin.port is -1: no admin API");
      return Future.succeededFuture();
    }
    AdminTokens tokens = new AdminTokens(admin.tokens());
    if (tokens.none()) {
      LOG.warn("no admin.token or admin.tokens configured: every /api/ call of the admin API is answered 401");
    }
    return AdminApi.router(vertx, tokens, adminParts(deps))
        .compose(router -> vertx.createHttpServer().requestHandler(router).listen(admin.port(), admin.host()))
        .onSuccess(server -> LOG.info("admin API listening on http://{}:{}", admin.host(), server.actualPort()));
  }

  static Reconciliations reconciliations(Vertx vertx, ProxyConfig config, Backends backends, Redis redis, Ledger ledger,
      LedgerRecovery recovery) {
    RegistryWalker walker = new RegistryWalker(vertx,
        WalkerOptions.of(config.upstream().origin()).withCaCertificates(config.upstream().caCertificates()));
    Reconciler reconciler = new Reconciler(backends.ledgerDatabase.pool(vertx, 2), walker);
    return new Reconciliations(redis, ledger, reconciler, recovery);
  }

  /**
   * A ledger that knows nothing, in front of a registry that may already hold images (the proxy is new,
   * or its embedded Postgres started empty): fill it from the registry, in the background.
   */
  private static void backfillAnEmptyLedger(Ledger ledger, Reconciliations reconciliations) {
    ledger.namespaces().onSuccess(namespaces -> {
      if (namespaces.isEmpty()) {
        reconciliations.backfill()
            .onSuccess(report -> LOG.info("backfill from the registry: {} repositories, {} scopes", report.walkedInTotal(),
                report.drift().size()))
            .onFailure(e -> LOG.warn("backfill from the registry failed (the next run resumes it): {}", e.toString()));
      }
    });
  }

  /**
   * {@code backfill} or {@code reconcile}: runs that job once against the configured registry, Postgres
   * and Redis (a running proxy fleet's), prints its report and exits.
   */
  private static int runJob(String job, ProxyConfig config) {
    if (config.ledger().embedded() || config.redis().embedded()) {
      System.err.println("quota-proxy " + job
          + ": give the fleet's --postgres.url and --redis.url (or redis.mode and redis.nodes; an embedded store would start empty)");
      return 2;
    }
    Vertx vertx = Vertx.vertx();
    try (Backends backends = Backends.start(config)) {
      Ledger ledger = new Ledger(backends.ledgerDatabase.pool(vertx, 2));
      Redis redis = backends.redis.create(vertx);
      Reconciliations reconciliations = reconciliations(vertx, config, backends, redis, ledger, new LedgerRecovery(vertx, redis, ledger));
      Future<?> run = job.equals("backfill")
          ? reconciliations.backfill()
          : reconciliations.redisAgainstLedger().compose(redisDrift -> reconciliations.registry());
      Object report = run.await(24, TimeUnit.HOURS);
      System.out.println(job + " done: " + report);
      return 0;
    } catch (Exception e) {
      System.err.println("quota-proxy " + job + " failed: " + e.getMessage());
      return 1;
    } finally {
      vertx.close();
    }
  }

  /** Hourly rows past the retention period (as recorded at each run) roll up to days: once at start, then every hour. */
  private static void keepRollingUp(Vertx vertx, Retention retention, java.util.function.Supplier<Future<Integer>> days) {
    Runnable rollUp = () -> days.get().compose(retained -> retention.rollUp(Instant.now(), retained))
        .onSuccess(done -> LOG.debug("retention: {}", done))
        .onFailure(e -> LOG.warn("retention roll-up not done (will retry): {}", e.toString()));
    rollUp.run();
    vertx.setPeriodic(Duration.ofHours(1).toMillis(), id -> rollUp.run());
  }

  /** Deploys one proxy verticle per configured event loop, with the given quota rules. */
  public static Future<String> start(Vertx vertx, ProxyConfig config, Function<Vertx, QuotaRules> rules) {
    return vertx.deployVerticle(() -> new ProxyVerticle(config, rules),
        new DeploymentOptions().setInstances(config.eventLoops()).setThreadingModel(ThreadingModel.EVENT_LOOP));
  }
}
