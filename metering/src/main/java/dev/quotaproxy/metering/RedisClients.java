package dev.quotaproxy.metering;

import dev.quotaproxy.config.ProxyConfig;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisClientType;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.RedisReplicas;
import io.vertx.redis.client.RedisRole;
import java.net.URI;
import java.util.List;
import java.util.Objects;

/**
 * Where the quota state's Redis is and how it is deployed, and the one place every Redis client of the
 * proxy is made: the quota store's pools, the ledger's client, the jobs'. Standalone, a client's options
 * are exactly {@code new RedisOptions().setConnectionString(url)} plus what the caller sizes. On a Redis
 * Cluster the client follows the slots (reads and writes go to primaries only: a replica's copy may lag
 * a decision), and is one that can also reach each primary on its own ({@link RedisNodes}); with Sentinel
 * it asks the Sentinels for the master, and again after a failover.
 */
public final class RedisClients {
  private final ProxyConfig.Redis.Mode mode;
  private final List<String> endpoints;
  private final String masterName;

  private RedisClients(ProxyConfig.Redis.Mode mode, List<String> endpoints, String masterName) {
    if (endpoints.isEmpty()) {
      throw new IllegalArgumentException("a Redis needs at least one address");
    }
    this.mode = mode;
    this.endpoints = List.copyOf(endpoints);
    this.masterName = masterName;
  }

  /** One Redis at this URL. */
  public static RedisClients standalone(String url) {
    return new RedisClients(ProxyConfig.Redis.Mode.STANDALONE, List.of(url), null);
  }

  /** A Redis Cluster, found from some of its nodes. */
  public static RedisClients cluster(List<String> seeds) {
    return new RedisClients(ProxyConfig.Redis.Mode.CLUSTER, seeds, null);
  }

  /** The master the Sentinels monitor under {@code masterName}. */
  public static RedisClients sentinel(List<String> sentinels, String masterName) {
    return new RedisClients(ProxyConfig.Redis.Mode.SENTINEL, sentinels, Objects.requireNonNull(masterName, "masterName"));
  }

  /** As configured; {@code standaloneUrl} is the standalone Redis's (the configured one, or the embedded one started). */
  public static RedisClients of(ProxyConfig.Redis settings, String standaloneUrl) {
    List<String> nodes = settings.nodes().stream().map(URI::toString).toList();
    return switch (settings.mode()) {
      case STANDALONE -> standalone(standaloneUrl);
      case CLUSTER -> cluster(nodes);
      case SENTINEL -> sentinel(nodes, settings.masterName().orElseThrow());
    };
  }

  public ProxyConfig.Redis.Mode mode() {
    return mode;
  }

  /** The standalone Redis's URL, the Cluster's seeds or the Sentinels. */
  public List<String> endpoints() {
    return endpoints;
  }

  /** Options naming the Redis and its deployment, for the caller to size (pool, waiting) before {@link #create(Vertx, RedisOptions)}. */
  public RedisOptions options() {
    return switch (mode) {
      case STANDALONE -> new RedisOptions().setConnectionString(endpoints.get(0));
      case CLUSTER -> new RedisOptions().setType(RedisClientType.CLUSTER).setEndpoints(endpoints).setUseReplicas(RedisReplicas.NEVER);
      case SENTINEL -> new RedisOptions().setType(RedisClientType.SENTINEL).setEndpoints(endpoints).setMasterName(masterName)
          .setRole(RedisRole.MASTER).setAutoFailover(true);
    };
  }

  /** A client with these options (made by {@link #options()}); the caller closes it. */
  public Redis create(Vertx vertx, RedisOptions options) {
    Redis client = Redis.createClient(vertx, options);
    return mode == ProxyConfig.Redis.Mode.CLUSTER ? new ClusterRedis(client, node -> node(vertx, node)) : client;
  }

  /** A client with the client's default pool. */
  public Redis create(Vertx vertx) {
    return create(vertx, options());
  }

  /**
   * A standalone client to one node of the Cluster, {@code host:port} as the Cluster names it, with the
   * seeds' scheme (TLS or not) and credentials: for what only that node can answer (SCAN).
   */
  Redis node(Vertx vertx, String hostAndPort) {
    URI seed = URI.create(endpoints.get(0));
    String userInfo = seed.getRawUserInfo() == null ? "" : seed.getRawUserInfo() + "@";
    String query = seed.getRawQuery() == null ? "" : "?" + seed.getRawQuery();
    return Redis.createClient(vertx,
        new RedisOptions().setConnectionString(seed.getScheme() + "://" + userInfo + hostAndPort + query).setMaxPoolSize(1));
  }

  /** Without passwords: it may be logged. */
  @Override
  public String toString() {
    return "RedisClients[" + mode + ", " + endpoints.size() + " endpoint(s)" + (masterName == null ? "" : ", master " + masterName) + "]";
  }
}
