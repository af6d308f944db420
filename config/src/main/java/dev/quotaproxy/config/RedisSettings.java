package dev.quotaproxy.config;

import java.net.URI;
import java.util.List;
import java.util.Optional;

/** Reads the redis.* settings into {@link ProxyConfig.Redis}, refusing a combination no deployment has. */
final class RedisSettings {
  private RedisSettings() {}

  /** The redis.* settings, checked together: each mode takes its own and refuses the others'. */
  static ProxyConfig.Redis read(Settings s, List<String> problems) {
    ProxyConfig.Redis.Mode mode = ProxyConfig.Redis.Mode.valueOf(s.get(ProxyConfig.REDIS_MODE).toUpperCase(java.util.Locale.ROOT));
    Optional<URI> url = s.find(ProxyConfig.REDIS_URL);
    List<URI> nodes = s.find(ProxyConfig.REDIS_NODES).orElse(List.of());
    Optional<String> masterName = s.find(ProxyConfig.REDIS_MASTER_NAME);
    String given = "redis.mode " + s.get(ProxyConfig.REDIS_MODE) + " (from " + s.sourceOf(ProxyConfig.REDIS_MODE) + ")";
    switch (mode) {
      case STANDALONE -> {
        if (!nodes.isEmpty()) {
          problems.add("redis.nodes (from " + s.sourceOf(ProxyConfig.REDIS_NODES) + ") is only used with redis.mode cluster or sentinel:"
              + " a single Redis is given in redis.url");
        }
        if (masterName.isPresent()) {
          problems.add("redis.master-name (from " + s.sourceOf(ProxyConfig.REDIS_MASTER_NAME) + ") is only used with redis.mode sentinel");
        }
      }
      case CLUSTER, SENTINEL -> {
        String what = mode == ProxyConfig.Redis.Mode.CLUSTER ? "some of the Cluster's nodes" : "the Sentinels";
        if (url.isPresent()) {
          problems.add(given + " takes its Redis from redis.nodes, not redis.url (from " + s.sourceOf(ProxyConfig.REDIS_URL)
              + "): give " + what + " in redis.nodes instead");
        }
        if (nodes.isEmpty()) {
          problems.add(given + " needs redis.nodes: " + what + ", like redis://10.0.0.1:6379,redis://10.0.0.2:6379");
        }
        if (mode == ProxyConfig.Redis.Mode.CLUSTER) {
          masterName.ifPresent(name -> problems.add(
              "redis.master-name (from " + s.sourceOf(ProxyConfig.REDIS_MASTER_NAME)
                  + ") is only used with redis.mode sentinel, not cluster"));
          for (URI node : nodes) {
            String path = node.getRawPath();
            if (path != null && !path.isEmpty() && !path.equals("/") && !path.equals("/0")) {
              problems.add("redis.nodes (from " + s.sourceOf(ProxyConfig.REDIS_NODES) + "): a Redis Cluster has only database 0;"
                  + " leave the database number out of its URLs");
              break;
            }
          }
        } else if (masterName.isEmpty()) {
          problems.add(given + " needs redis.master-name: the name the Sentinels monitor the master under");
        }
      }
    }
    return new ProxyConfig.Redis(url, s.get(ProxyConfig.REDIS_POOL_SIZE), mode, nodes, masterName);
  }
}
