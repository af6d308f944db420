package dev.quotaproxy.metering;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.config.ProxyConfig;
import io.vertx.redis.client.RedisClientType;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.RedisReplicas;
import io.vertx.redis.client.RedisRole;
import java.net.URI;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The options every Redis client is made with, by deployment. */
class RedisClientsTest {
  @Test
  void standaloneOptionsAreExactlyWhatTheProxyAlwaysMade() {
    RedisClients clients = RedisClients.of(new ProxyConfig.Redis(Optional.of(URI.create("redis://h:6379/2")), 32), "redis://h:6379/2");

    // Every field but the pool's name, which RedisOptions draws at random when none is given.
    assertThat(clients.options().toJson().copy().put("poolName", ""))
        .isEqualTo(new RedisOptions().setConnectionString("redis://h:6379/2").toJson().put("poolName", ""));
    assertThat(clients.options().setMaxPoolSize(4).setPoolName("ledger").toJson())
        .isEqualTo(new RedisOptions().setConnectionString("redis://h:6379/2").setMaxPoolSize(4).setPoolName("ledger").toJson());
    assertThat(clients.mode()).isEqualTo(ProxyConfig.Redis.Mode.STANDALONE);
  }

  @Test
  void clusterOptionsNameEverySeedAndReadFromPrimariesOnly() {
    List<URI> seeds = List.of(URI.create("redis://n1:7000"), URI.create("redis://n2:7001"));
    RedisClients clients = RedisClients.of(
        new ProxyConfig.Redis(Optional.empty(), 32, ProxyConfig.Redis.Mode.CLUSTER, seeds, Optional.empty()), null);

    RedisOptions options = clients.options();
    assertThat(options.getType()).isEqualTo(RedisClientType.CLUSTER);
    assertThat(options.getEndpoints()).containsExactly("redis://n1:7000", "redis://n2:7001");
    assertThat(options.getUseReplicas()).isEqualTo(RedisReplicas.NEVER);
  }

  @Test
  void sentinelOptionsAskTheSentinelsForTheMaster() {
    List<URI> sentinels = List.of(URI.create("redis://s1:26379"), URI.create("redis://s2:26379"));
    RedisClients clients = RedisClients.of(
        new ProxyConfig.Redis(Optional.empty(), 32, ProxyConfig.Redis.Mode.SENTINEL, sentinels, Optional.of("quota")), null);

    RedisOptions options = clients.options();
    assertThat(options.getType()).isEqualTo(RedisClientType.SENTINEL);
    assertThat(options.getEndpoints()).containsExactly("redis://s1:26379", "redis://s2:26379");
    assertThat(options.getMasterName()).isEqualTo("quota");
    assertThat(options.getRole()).isEqualTo(RedisRole.MASTER);
    assertThat(options.isAutoFailover()).isTrue();
  }
}
