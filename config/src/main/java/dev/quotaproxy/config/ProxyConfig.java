package dev.quotaproxy.config;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The proxy's typed configuration, built from the settings catalog and checked as a whole.
 *
 * <p>Over 350 lines: it is the catalog itself, one declaration with its help text per setting, beside the
 * records they fill and the checks that span several settings (the Redis modes', which read the catalog's
 * settings and fill its record, so that a class of their own would import this one and be imported by it).
 */
public record ProxyConfig(Listen listen, Upstream upstream, int eventLoops, boolean zeroCopy, AccessLogMode accessLog, Redis redis,
    Quota quota, Ledger ledger, Admin admin, EventsConfig events) {

  /**
   * Where the access lines go: {@code stdout} batched per event loop and written by one thread; {@code logger}
   * one logback event each on the {@code access} logger, for a logback configuration of one's own; {@code off}.
   */
  public enum AccessLogMode {
    STDOUT, LOGGER, OFF
  }

  /** The system settings the file gives (quota.system.*, ledger.retention-days); it has no setting for overcommit: false. */
  public SystemSettings systemSettings() {
    SystemQuota system = quota.system();
    return new SystemSettings(system.hardStorage(), system.writeRatio(), system.readOnlyForced(), false, ledger.retentionDays());
  }

  /**
   * The admin API's listener and who may call it.
   *
   * @param port   -1 for no admin listener, 0 for any free port
   * @param tokens every token that may call it, the flag's single admin token ({@code admin.token}) first
   * @param vertxHttpMetrics whether Vert.x's own per-request HTTP meters ({@code vertx_http_server_*}, {@code vertx_http_client_*}) are kept
   */
  public record Admin(String host, int port, List<AdminTokenConfig> tokens, boolean vertxHttpMetrics) {
    public boolean enabled() {
      return port >= 0;
    }

    public Admin {
      tokens = List.copyOf(tokens);
    }
  }

  public record Listen(String host, int port, Optional<Tls> tls, boolean trustForwardedHeaders, Duration idleTimeout) {
    public String scheme() {
      return tls.isPresent() ? "https" : "http";
    }
  }

  /** PEM certificate chain and PEM private key (PKCS#8 or PKCS#1) served by the listener. */
  public record Tls(Path certificateChain, Path privateKey) {}

  public record Upstream(
      URI origin,
      Optional<Path> caCertificates,
      int poolSize,
      int maxWaiting,
      Duration connectTimeout,
      Duration idleTimeout,
      Duration continueTimeout) {

    public boolean secure() {
      return origin.getScheme().equals("https");
    }

    public int port() {
      return origin.getPort() != -1 ? origin.getPort() : secure() ? 443 : 80;
    }
  }

  /**
   * Where the quota state lives: one Redis ({@code url}), a Redis Cluster (its seed {@code nodes}), or a
   * master found through Sentinels ({@code nodes}, {@code masterName}).
   *
   * @param url        the standalone Redis; empty (and standalone) to start an embedded one
   * @param poolSize   connections per proxy process
   * @param mode       standalone, cluster or sentinel
   * @param nodes      the Cluster's seed nodes, or the Sentinels; empty when standalone
   * @param masterName the name the Sentinels know the master by; only with Sentinel
   */
  public record Redis(Optional<URI> url, int poolSize, Mode mode, List<URI> nodes, Optional<String> masterName) {
    public enum Mode {
      STANDALONE, CLUSTER, SENTINEL
    }

    public Redis {
      nodes = List.copyOf(nodes);
    }

    /** One standalone Redis at {@code url} (or embedded when empty). */
    public Redis(Optional<URI> url, int poolSize) {
      this(url, poolSize, Mode.STANDALONE, List.of(), Optional.empty());
    }

    public boolean embedded() {
      return mode == Mode.STANDALONE && url.isEmpty();
    }

    /** Without the URLs' passwords: configurations get logged. */
    @Override
    public String toString() {
      String where = switch (mode) {
        case STANDALONE -> "url=" + url.map(u -> Redaction.hidePassword(u.toString())).orElse("embedded");
        case CLUSTER -> "cluster=" + hidden(nodes);
        case SENTINEL -> "sentinel=" + hidden(nodes) + ", masterName=" + masterName.orElse("");
      };
      return "Redis[" + where + ", poolSize=" + poolSize + "]";
    }

    private static List<String> hidden(List<URI> urls) {
      return urls.stream().map(u -> Redaction.hidePassword(u.toString())).toList();
    }
  }

  /**
   * @param postgresUrl         the Postgres that holds the ledger; empty to start an embedded one
   * @param poolSize            connections to it per proxy process
   * @param batchSize           events moved from Redis to Postgres per transaction
   * @param retentionDays       days hourly usage rows are kept before they are rolled up to days
   * @param reconcileInterval   how often the ledger is compared with the registry (zero: only on demand)
   * @param reconcileAfterLoss  how long after Redis is found to have lost writes a reconciliation runs (zero: none)
   */
  public record Ledger(Optional<URI> postgresUrl, int poolSize, int batchSize, int retentionDays, Duration reconcileInterval,
      Duration reconcileAfterLoss) {
    public boolean embedded() {
      return postgresUrl.isEmpty();
    }

    /** Without the URL's password: configurations get logged. */
    @Override
    public String toString() {
      return "Ledger[postgresUrl=" + postgresUrl.map(u -> Redaction.hidePassword(u.toString())).orElse("embedded")
          + ", poolSize=" + poolSize + ", batchSize=" + batchSize + ", retentionDays=" + retentionDays
          + ", reconcileInterval=" + reconcileInterval + ", reconcileAfterLoss=" + reconcileAfterLoss + "]";
    }
  }

  /**
   * @param enabled           false runs a plain transparent proxy: nothing metered, no Redis
   * @param failOpen          when Redis cannot be asked: true lets pushes through unmetered, false refuses them with 503
   * @param reservationTtl    how long an upload's reservation outlives its last reserve
   * @param chunkReservation  bytes reserved at a time for an upload without Content-Length
   * @param system            limits on the registry as a whole
   * @param scopes            limits by scope name, in the order the file gives them
   */
  public record Quota(boolean enabled, boolean failOpen, Duration reservationTtl, long chunkReservation, SystemQuota system,
      Map<String, Limits> scopes, PushGuards guards) {}

  /**
   * What keeps a client from holding quota, connections or memory for free on the push path.
   *
   * @param bodyFirstByteTimeout  how long a push request may go without sending the first byte of its body
   * @param manifestBodyTimeout   how long a manifest body may take to arrive whole
   * @param manifestBuffer        bytes of manifest bodies the proxy buffers at once, over every request
   * @param maxManifestReferences references one manifest may carry
   * @param maxPushesPerClient    push requests one client address may have in flight; 0 for no limit
   */
  public record PushGuards(Duration bodyFirstByteTimeout, Duration manifestBodyTimeout, long manifestBuffer,
      int maxManifestReferences, int maxPushesPerClient) {}

  /**
   * @param hardStorage    bytes the whole registry may hold, or -1
   * @param writeRatio     fraction of hardStorage (above 0, at most 1) at which the registry turns read-only
   * @param readOnlyForced read-only whatever the usage
   * @param refresh        how often each proxy re-sums the system's usage
   */
  public record SystemQuota(long hardStorage, double writeRatio, boolean readOnlyForced, Duration refresh) {}

  public static final Setting<URI> UPSTREAM_URL = Setting.required("upstream.url", "URL",
      "Origin of the registry behind the proxy, e.g. http://127.0.0.1:5000 or https://registry.internal.",
      Parsers.httpOrigin(), "--upstream");
  public static final Setting<Path> UPSTREAM_CA = Setting.optional("upstream.ca", "FILE",
      "PEM file of CA certificates that an https upstream's certificate must chain to, instead of the system trust store.",
      Parsers.readableFile());
  public static final Setting<Integer> UPSTREAM_POOL_SIZE = Setting.withDefault("upstream.pool-size", "N",
      "Connections to the upstream per event loop. Blob transfers hold a connection for their whole length, so this is far above HTTP clients' usual 5.",
      "64", Parsers.intBetween(1, 10_000));
  public static final Setting<Integer> UPSTREAM_MAX_WAITING = Setting.withDefault("upstream.max-waiting", "N",
      "Requests per event loop that may wait for a free upstream connection; beyond it the proxy answers 503 UNAVAILABLE with Retry-After.",
      "1024", Parsers.intBetween(0, 1_000_000));
  public static final Setting<Duration> UPSTREAM_CONNECT_TIMEOUT = Setting.withDefault("upstream.connect-timeout", "DURATION",
      "How long to wait for a TCP (and TLS) connection to the upstream before answering 502.",
      "5s", Parsers.duration(Duration.ofMillis(1)));
  public static final Setting<Duration> UPSTREAM_IDLE_TIMEOUT = Setting.withDefault("upstream.idle-timeout", "DURATION",
      "How long an exchange may move no bytes in either direction; before the upstream answers this is a 504, during a transfer both sides are closed.",
      "60s", Parsers.duration(Duration.ofMillis(1)));
  public static final Setting<Duration> UPSTREAM_CONTINUE_TIMEOUT = Setting.withDefault("upstream.continue-timeout", "DURATION",
      "With quotas on, a push's head goes to the registry with Expect: 100-continue and its quota is decided once the registry"
          + " asks for the body, that is after the registry's own authentication. A registry that has not answered within this"
          + " is sent the body anyway, decided without it.",
      "1s", Parsers.duration(Duration.ofMillis(1)));
  public static final Setting<String> LISTEN_HOST = Setting.withDefault("listen.host", "ADDRESS",
      "Address the proxy listens on.", "0.0.0.0", Parsers.text(), "--host");
  public static final Setting<Integer> LISTEN_PORT = Setting.withDefault("listen.port", "PORT",
      "Port the proxy listens on; 0 takes any free port.", "8080", Parsers.intBetween(0, 65535), "--port");
  public static final Setting<Path> LISTEN_TLS_CERT = Setting.optional("listen.tls.cert", "FILE",
      "PEM certificate chain to serve HTTPS with (give listen.tls.key too). Docker refuses plain HTTP to any registry that is not on localhost.",
      Parsers.readableFile());
  public static final Setting<Path> LISTEN_TLS_KEY = Setting.optional("listen.tls.key", "FILE",
      "PEM private key of listen.tls.cert.", Parsers.readableFile());
  public static final Setting<Boolean> LISTEN_TRUST_FORWARDED = Setting.withDefault("listen.trust-forwarded-headers", "true|false",
      "Keep the X-Forwarded-Host/-Proto/-For a load balancer in front of the proxy sets, instead of replacing them.",
      "false", Parsers.bool());
  public static final Setting<Duration> LISTEN_IDLE_TIMEOUT = Setting.withDefault("listen.idle-timeout", "DURATION",
      "How long a client connection may stay idle before the proxy closes it.", "120s", Parsers.duration(Duration.ofSeconds(1)));
  public static final Setting<Integer> EVENT_LOOPS = Setting.withDefault("proxy.event-loops", "N",
      "Event loops, each running one proxy verticle with its own upstream pool. Default: one per CPU core.",
      String.valueOf(Runtime.getRuntime().availableProcessors()), Parsers.intBetween(1, 1024));

  public static final Setting<Boolean> ZERO_COPY = Setting.withDefault("proxy.zero-copy", "true|false",
      "Move blob downloads of 1 MiB or more from the upstream socket to the client socket with splice(2), without copying them"
          + " through the proxy. Linux epoll and plain HTTP on both sides only; elsewhere bodies are copied as usual.",
      "true", Parsers.bool());

  public static final Setting<String> ACCESS_LOG = Setting.withDefault("proxy.access-log", "stdout|logger|off",
      "Where the access log's JSON lines go: stdout (what each event loop logged in one turn written at once by one thread),"
          + " logger (one event each on the logback logger access, for a logback configuration of one's own: costs more), off.",
      "stdout", Parsers.oneOf("stdout", "logger", "off"));

  public static final Setting<URI> REDIS_URL = Setting.optional("redis.url", "URL",
      "Redis that holds quota state, redis:// or rediss:// (TLS), with user, password and database number as needed. Unset: the proxy starts an embedded Redis, for a single proxy instance.",
      Parsers.redisUrl());
  public static final Setting<String> REDIS_MODE = Setting.withDefault("redis.mode", "standalone|cluster|sentinel",
      "How Redis is deployed: one server at redis.url (standalone), a Redis Cluster whose seed nodes are redis.nodes,"
          + " or a master found through the Sentinels at redis.nodes under redis.master-name.",
      "standalone", Parsers.oneOf("standalone", "cluster", "sentinel"));
  public static final Setting<List<URI>> REDIS_NODES = Setting.optional("redis.nodes", "URL,URL,...",
      "With redis.mode cluster, some of the Cluster's nodes (the rest are found from them); with sentinel, the Sentinels."
          + " Comma-separated redis:// or rediss:// URLs, with user and password as needed.",
      Parsers.redisUrls());
  public static final Setting<String> REDIS_MASTER_NAME = Setting.optional("redis.master-name", "NAME",
      "With redis.mode sentinel, the name the Sentinels know the master by (sentinel monitor NAME ...).", Parsers.text());
  public static final Setting<Integer> REDIS_POOL_SIZE = Setting.withDefault("redis.pool-size", "N",
      "Connections to Redis per proxy process.", "32", Parsers.intBetween(1, 10_000));
  public static final Setting<URI> POSTGRES_URL = Setting.optional("postgres.url", "URL",
      "Postgres that holds the ledger, postgresql://user:password@host:port/database. Unset: the proxy starts an embedded Postgres 17, for a single proxy instance.",
      Parsers.postgresUrl());
  public static final Setting<Integer> POSTGRES_POOL_SIZE = Setting.withDefault("postgres.pool-size", "N",
      "Connections to Postgres per proxy process.", "8", Parsers.intBetween(1, 1_000));
  public static final Setting<Integer> LEDGER_BATCH_SIZE = Setting.withDefault("ledger.batch-size", "N",
      "Events moved from Redis to Postgres in one transaction.", "500", Parsers.intBetween(1, 100_000));
  public static final Setting<Integer> LEDGER_RETENTION_DAYS = Setting.withDefault("ledger.retention-days", "DAYS",
      "Days hourly usage rows are kept; older ones are rolled up to days. Seeds the system setting retention_days, which the admin API can change.",
      "30", Parsers.intBetween(1, 36_500));
  public static final Setting<Duration> LEDGER_RECONCILE_INTERVAL = Setting.withDefault("ledger.reconcile-interval", "DURATION",
      "How often the ledger is compared with the registry and corrected; 0s only on demand.", "6h", Parsers.duration(Duration.ZERO));
  public static final Setting<Duration> LEDGER_RECONCILE_AFTER_LOSS = Setting.withDefault("ledger.reconcile-after-loss", "DURATION",
      "How long after Redis is found to have lost writes (a failover to a lagging replica, an older copy) the ledger and Redis are"
          + " reconciled with the registry, to correct decisions made on the older state; 0s never.",
      "30s", Parsers.duration(Duration.ZERO));
  public static final Setting<Boolean> QUOTA_ENABLED = Setting.withDefault("quota.enabled", "true|false",
      "Meter and enforce quotas. Off, the proxy only forwards: nothing is metered and no Redis is used or started.",
      "true", Parsers.bool());
  public static final Setting<Boolean> QUOTA_FAIL_OPEN = Setting.withDefault("quota.fail-open", "true|false",
      "When Redis cannot be reached: false refuses pushes with 503, true lets them through unmetered.", "false", Parsers.bool());
  public static final Setting<Duration> QUOTA_RESERVATION_TTL = Setting.withDefault("quota.reservation-ttl", "DURATION",
      "How long an upload's reserved bytes are held after its last request; an abandoned upload gives them back after this.",
      "1h", Parsers.duration(Duration.ofSeconds(1)));
  public static final Setting<Long> QUOTA_CHUNK_RESERVATION = Setting.withDefault("quota.chunk-reservation", "SIZE",
      "Bytes reserved at a time for an upload without Content-Length. At least 64KiB.",
      "8MiB", ByteSize.parserAtLeast(64 * 1024));
  public static final Setting<Duration> QUOTA_BODY_FIRST_BYTE_TIMEOUT = Setting.withDefault("quota.body-first-byte-timeout", "DURATION",
      "How long a push request (a blob chunk, upload or manifest) may take to send the first byte of its body once the proxy"
          + " is ready for it; past it the request is cut off, holding nothing. Nothing is reserved or sent upstream before that byte.",
      "10s", Parsers.duration(Duration.ofMillis(1)));
  public static final Setting<Duration> QUOTA_MANIFEST_BODY_TIMEOUT = Setting.withDefault("quota.manifest-body-timeout", "DURATION",
      "How long a manifest body (buffered whole to be read) may take to arrive.", "30s", Parsers.duration(Duration.ofMillis(1)));
  public static final Setting<Long> QUOTA_MANIFEST_BUFFER = Setting.withDefault("quota.manifest-buffer", "SIZE",
      "Bytes of manifest bodies buffered at once over all requests; a manifest push beyond it is answered 503 with Retry-After.",
      "64MiB", ByteSize.parserAtLeast(4 * 1024 * 1024));
  public static final Setting<Integer> QUOTA_MAX_MANIFEST_REFERENCES = Setting.withDefault("quota.max-manifest-references", "N",
      "References (layers, config, child manifests) one manifest may carry; more is refused 400 MANIFEST_INVALID.",
      "1000", Parsers.intBetween(1, 1_000_000));
  public static final Setting<Integer> QUOTA_MAX_PUSHES_PER_CLIENT = Setting.withDefault("quota.max-pushes-per-client", "N",
      "Push requests (upload starts, chunks, uploads, mounts, manifests) one client address may have in flight; more are"
          + " answered 429 with Retry-After. 0: no limit.",
      "64", Parsers.intBetween(0, 1_000_000));
  public static final Setting<Long> QUOTA_SYSTEM_HARD_STORAGE = Setting.withDefault("quota.system.hard-storage", "SIZE",
      "Bytes the whole registry may hold. -1: unlimited. Like write-ratio and read-only, seeds the system settings until an admin changes them through the admin API.",
      "-1", ByteSize.parser());
  public static final Setting<Double> QUOTA_SYSTEM_WRITE_RATIO = Setting.withDefault("quota.system.write-ratio", "PERCENT",
      "Share of quota.system.hard-storage at which the registry turns read-only, e.g. 95%. Above 0%, at most 100%.",
      "100%", Parsers.percent());
  public static final Setting<Boolean> QUOTA_SYSTEM_READ_ONLY = Setting.withDefault("quota.system.read-only", "true|false",
      "Make the registry read-only, whatever its usage.", "false", Parsers.bool());
  public static final Setting<Duration> QUOTA_SYSTEM_REFRESH = Setting.withDefault("quota.system.refresh", "DURATION",
      "How often each proxy re-sums the system's usage.", "1s", Parsers.duration(Duration.ofMillis(100)));

  public static final Setting<String> ADMIN_HOST = Setting.withDefault("admin.host", "ADDRESS",
      "Address the admin API, report page, /metrics, /healthz and /readyz listen on.", "127.0.0.1", Parsers.text());
  public static final Setting<Integer> ADMIN_PORT = Setting.withDefault("admin.port", "PORT",
      "Port of the admin listener; 0 takes any free port, -1 serves no admin API.", "8081", Parsers.intBetween(-1, 65_535));
  public static final Setting<Boolean> ADMIN_VERTX_HTTP_METRICS = Setting.withDefault("admin.vertx-http-metrics", "true|false",
      "Also keep Vert.x's own per-request HTTP meters (vertx_http_server_*, vertx_http_client_*). Off, the proxy's own"
          + " (quota_proxy_requests_total and the rest) still count every request; on, each request costs some microseconds more.",
      "false", Parsers.bool());
  public static final Setting<String> ADMIN_TOKEN = Setting.optional("admin.token", "SECRET",
      "An admin bearer token (named admin in the audit log), at least 16 characters; more tokens, and viewers, go in admin.tokens.",
      Parsers.text());
  public static final MapSetting ADMIN_TOKENS = new MapSetting("admin.tokens", "NAME",
      "Bearer tokens of the admin API, by the name the audit log shows: an admin role, or a viewer granted some scopes.",
      Parsers.simpleName(), AdminTokenConfig.FIELDS);

  public static final MapSetting QUOTA_SCOPES = new MapSetting("quota.scopes", "SCOPE",
      "Limits of a scope: a namespace or repository path like acme or acme/team/app, counting every repository under it."
          + " Limits set or removed through the admin API win over these.",
      Parsers.repositoryName(), ScopeLimitSettings.FIELDS);

  public static final List<Setting<?>> CATALOG = List.of(
      UPSTREAM_URL, UPSTREAM_CA, UPSTREAM_POOL_SIZE, UPSTREAM_MAX_WAITING, UPSTREAM_CONNECT_TIMEOUT, UPSTREAM_IDLE_TIMEOUT,
      UPSTREAM_CONTINUE_TIMEOUT,
      LISTEN_HOST, LISTEN_PORT, LISTEN_TLS_CERT, LISTEN_TLS_KEY, LISTEN_TRUST_FORWARDED, LISTEN_IDLE_TIMEOUT,
      EVENT_LOOPS, ZERO_COPY, ACCESS_LOG,
      REDIS_URL, REDIS_MODE, REDIS_NODES, REDIS_MASTER_NAME, REDIS_POOL_SIZE,
      POSTGRES_URL, POSTGRES_POOL_SIZE, LEDGER_BATCH_SIZE, LEDGER_RETENTION_DAYS, LEDGER_RECONCILE_INTERVAL, LEDGER_RECONCILE_AFTER_LOSS,
      QUOTA_ENABLED, QUOTA_FAIL_OPEN, QUOTA_RESERVATION_TTL, QUOTA_CHUNK_RESERVATION,
      QUOTA_BODY_FIRST_BYTE_TIMEOUT, QUOTA_MANIFEST_BODY_TIMEOUT, QUOTA_MANIFEST_BUFFER, QUOTA_MAX_MANIFEST_REFERENCES,
      QUOTA_MAX_PUSHES_PER_CLIENT,
      QUOTA_SYSTEM_HARD_STORAGE, QUOTA_SYSTEM_WRITE_RATIO, QUOTA_SYSTEM_READ_ONLY, QUOTA_SYSTEM_REFRESH,
      ADMIN_HOST, ADMIN_PORT, ADMIN_VERTX_HTTP_METRICS, ADMIN_TOKEN,
      EventsConfig.RETRY_FIRST, EventsConfig.RETRY_MAX, EventsConfig.GIVE_UP_AFTER, EventsConfig.POLL_INTERVAL,
      EventsConfig.REQUEST_TIMEOUT);

  /** Settings keyed by names the operator chooses, given in the YAML file only. */
  public static final List<MapSetting> MAP_CATALOG = List.of(QUOTA_SCOPES, ADMIN_TOKENS, EventsConfig.WEBHOOKS);

  public static SettingsLoader loader() {
    return new SettingsLoader(CATALOG, MAP_CATALOG);
  }

  /** Loads and checks everything; throws {@link ConfigurationException} listing every problem. */
  public static ProxyConfig load(List<String> args, Map<String, String> env) {
    return from(loader().load(args, env));
  }

  static ProxyConfig from(Settings s) {
    List<String> problems = new ArrayList<>();
    Optional<Path> cert = s.find(LISTEN_TLS_CERT);
    Optional<Path> key = s.find(LISTEN_TLS_KEY);
    if (cert.isPresent() != key.isPresent()) {
      problems.add("listen.tls.cert and listen.tls.key go together: set both to serve HTTPS, or neither");
    }
    URI origin = s.get(UPSTREAM_URL);
    if (s.find(UPSTREAM_CA).isPresent() && !origin.getScheme().equals("https")) {
      problems.add("upstream.ca (from " + s.sourceOf(UPSTREAM_CA) + ") is only used with an https:// upstream.url, but it is " + origin);
    }
    ProxyConfig.Redis redis = redis(s, problems);
    Map<String, Limits> scopes = scopeLimits(s, problems);
    List<AdminTokenConfig> tokens = adminTokens(s, problems);
    EventsConfig events = EventsConfig.from(s, problems);
    if (!problems.isEmpty()) {
      throw new ConfigurationException(problems);
    }
    Optional<Tls> tls = cert.flatMap(c -> key.map(k -> new Tls(c, k)));
    return new ProxyConfig(
        new Listen(s.get(LISTEN_HOST), s.get(LISTEN_PORT), tls, s.get(LISTEN_TRUST_FORWARDED), s.get(LISTEN_IDLE_TIMEOUT)),
        new Upstream(origin, s.find(UPSTREAM_CA), s.get(UPSTREAM_POOL_SIZE), s.get(UPSTREAM_MAX_WAITING),
            s.get(UPSTREAM_CONNECT_TIMEOUT), s.get(UPSTREAM_IDLE_TIMEOUT), s.get(UPSTREAM_CONTINUE_TIMEOUT)),
        s.get(EVENT_LOOPS),
        s.get(ZERO_COPY),
        AccessLogMode.valueOf(s.get(ACCESS_LOG).toUpperCase(java.util.Locale.ROOT)),
        redis,
        new Quota(s.get(QUOTA_ENABLED), s.get(QUOTA_FAIL_OPEN), s.get(QUOTA_RESERVATION_TTL), s.get(QUOTA_CHUNK_RESERVATION),
            new SystemQuota(s.get(QUOTA_SYSTEM_HARD_STORAGE), s.get(QUOTA_SYSTEM_WRITE_RATIO), s.get(QUOTA_SYSTEM_READ_ONLY),
                s.get(QUOTA_SYSTEM_REFRESH)),
            scopes,
            new PushGuards(s.get(QUOTA_BODY_FIRST_BYTE_TIMEOUT), s.get(QUOTA_MANIFEST_BODY_TIMEOUT), s.get(QUOTA_MANIFEST_BUFFER),
                s.get(QUOTA_MAX_MANIFEST_REFERENCES), s.get(QUOTA_MAX_PUSHES_PER_CLIENT))),
        new Ledger(s.find(POSTGRES_URL), s.get(POSTGRES_POOL_SIZE), s.get(LEDGER_BATCH_SIZE), s.get(LEDGER_RETENTION_DAYS),
            s.get(LEDGER_RECONCILE_INTERVAL), s.get(LEDGER_RECONCILE_AFTER_LOSS)),
        new Admin(s.get(ADMIN_HOST), s.get(ADMIN_PORT), tokens, s.get(ADMIN_VERTX_HTTP_METRICS)),
        events);
  }

  /** The redis.* settings, checked together: each mode takes its own and refuses the others'. */
  private static ProxyConfig.Redis redis(Settings s, List<String> problems) {
    Redis.Mode mode = Redis.Mode.valueOf(s.get(REDIS_MODE).toUpperCase(java.util.Locale.ROOT));
    Optional<URI> url = s.find(REDIS_URL);
    List<URI> nodes = s.find(REDIS_NODES).orElse(List.of());
    Optional<String> masterName = s.find(REDIS_MASTER_NAME);
    String given = "redis.mode " + s.get(REDIS_MODE) + " (from " + s.sourceOf(REDIS_MODE) + ")";
    switch (mode) {
      case STANDALONE -> {
        if (!nodes.isEmpty()) {
          problems.add("redis.nodes (from " + s.sourceOf(REDIS_NODES) + ") is only used with redis.mode cluster or sentinel:"
              + " a single Redis is given in redis.url");
        }
        if (masterName.isPresent()) {
          problems.add("redis.master-name (from " + s.sourceOf(REDIS_MASTER_NAME) + ") is only used with redis.mode sentinel");
        }
      }
      case CLUSTER, SENTINEL -> {
        String what = mode == Redis.Mode.CLUSTER ? "some of the Cluster's nodes" : "the Sentinels";
        if (url.isPresent()) {
          problems.add(given + " takes its Redis from redis.nodes, not redis.url (from " + s.sourceOf(REDIS_URL)
              + "): give " + what + " in redis.nodes instead");
        }
        if (nodes.isEmpty()) {
          problems.add(given + " needs redis.nodes: " + what + ", like redis://10.0.0.1:6379,redis://10.0.0.2:6379");
        }
        if (mode == Redis.Mode.CLUSTER) {
          masterName.ifPresent(name -> problems.add(
              "redis.master-name (from " + s.sourceOf(REDIS_MASTER_NAME) + ") is only used with redis.mode sentinel, not cluster"));
          for (URI node : nodes) {
            String path = node.getRawPath();
            if (path != null && !path.isEmpty() && !path.equals("/") && !path.equals("/0")) {
              problems.add("redis.nodes (from " + s.sourceOf(REDIS_NODES) + "): a Redis Cluster has only database 0;"
                  + " leave the database number out of its URLs");
              break;
            }
          }
        } else if (masterName.isEmpty()) {
          problems.add(given + " needs redis.master-name: the name the Sentinels monitor the master under");
        }
      }
    }
    return new Redis(url, s.get(REDIS_POOL_SIZE), mode, nodes, masterName);
  }

  private static List<AdminTokenConfig> adminTokens(Settings s, List<String> problems) {
    List<AdminTokenConfig> tokens = new ArrayList<>();
    s.find(ADMIN_TOKEN).ifPresent(token -> {
      if (token.length() < AdminTokenConfig.MIN_TOKEN_LENGTH) {
        problems.add("admin.token (from " + s.sourceOf(ADMIN_TOKEN) + ") is too short: at least "
            + AdminTokenConfig.MIN_TOKEN_LENGTH + " characters");
      } else {
        tokens.add(new AdminTokenConfig("admin", token, AdminTokenConfig.Role.ADMIN, List.of()));
      }
    });
    s.entries(ADMIN_TOKENS).forEach((name, entry) -> {
      if (name.equals("admin") && s.find(ADMIN_TOKEN).isPresent()) {
        problems.add(ADMIN_TOKENS.keyOf(name) + " takes the name admin.token already has: name it otherwise");
        return;
      }
      AdminTokenConfig.from(ADMIN_TOKENS, name, entry, problems).ifPresent(tokens::add);
    });
    java.util.Set<String> secrets = new java.util.HashSet<>();
    for (AdminTokenConfig token : tokens) {
      if (!secrets.add(token.token())) {
        problems.add("admin token " + token.name() + " has the same secret as another token: each needs its own");
      }
    }
    return tokens;
  }

  private static Map<String, Limits> scopeLimits(Settings s, List<String> problems) {
    Map<String, Limits> scopes = new LinkedHashMap<>();
    s.entries(QUOTA_SCOPES).forEach(
        (scope, entry) -> ScopeLimitSettings.from(QUOTA_SCOPES, scope, entry, problems).ifPresent(limits -> scopes.put(scope, limits)));
    return Collections.unmodifiableMap(scopes);
  }
}
