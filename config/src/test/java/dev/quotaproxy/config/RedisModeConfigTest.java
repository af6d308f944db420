package dev.quotaproxy.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.quotaproxy.config.ProxyConfig.Redis.Mode;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** redis.mode, redis.nodes and redis.master-name: each mode takes its own settings and refuses the others'. */
class RedisModeConfigTest {
  @TempDir Path dir;

  private static ProxyConfig load(String... flags) {
    List<String> args = new ArrayList<>(List.of("--upstream", "http://r"));
    args.addAll(List.of(flags));
    return ProxyConfig.load(args, Map.of());
  }

  @Test
  void standaloneIsTheDefaultAndUnchanged() {
    ProxyConfig.Redis redis = load("--redis.url", "redis://h:6379/1").redis();

    assertThat(redis).isEqualTo(new ProxyConfig.Redis(Optional.of(URI.create("redis://h:6379/1")), 32));
    assertThat(redis.mode()).isEqualTo(Mode.STANDALONE);
    assertThat(redis.nodes()).isEmpty();
    assertThat(redis.embedded()).isFalse();
    assertThat(load().redis().embedded()).isTrue();
    assertThat(load("--redis.mode", "STANDALONE").redis().mode()).isEqualTo(Mode.STANDALONE);
  }

  @Test
  void clusterTakesItsSeedNodes() {
    ProxyConfig.Redis redis = load("--redis.mode", "cluster", "--redis.nodes", "redis://10.0.0.1:7000, redis://:s3cret@10.0.0.2:7001")
        .redis();

    assertThat(redis.mode()).isEqualTo(Mode.CLUSTER);
    assertThat(redis.nodes()).containsExactly(URI.create("redis://10.0.0.1:7000"), URI.create("redis://:s3cret@10.0.0.2:7001"));
    assertThat(redis.url()).isEmpty();
    assertThat(redis.embedded()).isFalse();
    assertThat(redis.toString()).isEqualTo("Redis[cluster=[redis://10.0.0.1:7000, redis://:***@10.0.0.2:7001], poolSize=32]");
  }

  @Test
  void sentinelTakesTheSentinelsAndTheMasterName() throws IOException {
    Path yaml = Files.writeString(dir.resolve("c.yaml"), """
        upstream: {url: 'http://r'}
        redis:
          mode: sentinel
          nodes: redis://s1:26379,redis://s2:26379,redis://s3:26379
          master-name: quota
        """);

    ProxyConfig.Redis redis = ProxyConfig.load(List.of("--config", yaml.toString()), Map.of()).redis();

    assertThat(redis.mode()).isEqualTo(Mode.SENTINEL);
    assertThat(redis.nodes()).hasSize(3);
    assertThat(redis.masterName()).contains("quota");
    assertThat(redis.embedded()).isFalse();
  }

  @Test
  void environmentSetsTheModeToo() {
    ProxyConfig.Redis redis = ProxyConfig.load(List.of("--upstream", "http://r"),
        Map.of("QUOTA_PROXY_REDIS_MODE", "cluster", "QUOTA_PROXY_REDIS_NODES", "redis://n1:7000")).redis();

    assertThat(redis.mode()).isEqualTo(Mode.CLUSTER);
    assertThat(redis.nodes()).containsExactly(URI.create("redis://n1:7000"));
  }

  @Test
  void badCombinationsAreRefusedAtStartSayingWhy() {
    assertThatThrownBy(() -> load("--redis.mode", "cluster"))
        .isInstanceOfSatisfying(ConfigurationException.class, e -> assertThat(e.problems()).containsExactly(
            "redis.mode cluster (from flag --redis.mode) needs redis.nodes: some of the Cluster's nodes,"
                + " like redis://10.0.0.1:6379,redis://10.0.0.2:6379"));
    assertThatThrownBy(() -> load("--redis.mode", "cluster", "--redis.url", "redis://h", "--redis.nodes", "redis://n:7000",
        "--redis.master-name", "m"))
        .isInstanceOfSatisfying(ConfigurationException.class, e -> assertThat(e.problems()).containsExactlyInAnyOrder(
            "redis.mode cluster (from flag --redis.mode) takes its Redis from redis.nodes, not redis.url (from flag --redis.url):"
                + " give some of the Cluster's nodes in redis.nodes instead",
            "redis.master-name (from flag --redis.master-name) is only used with redis.mode sentinel, not cluster"));
    assertThatThrownBy(() -> load("--redis.mode", "sentinel", "--redis.nodes", "redis://s:26379"))
        .isInstanceOfSatisfying(ConfigurationException.class, e -> assertThat(e.problems()).containsExactly(
            "redis.mode sentinel (from flag --redis.mode) needs redis.master-name: the name the Sentinels monitor the master under"));
    assertThatThrownBy(() -> load("--redis.nodes", "redis://n:7000", "--redis.master-name", "m"))
        .isInstanceOfSatisfying(ConfigurationException.class, e -> assertThat(e.problems()).containsExactlyInAnyOrder(
            "redis.nodes (from flag --redis.nodes) is only used with redis.mode cluster or sentinel: a single Redis is given in redis.url",
            "redis.master-name (from flag --redis.master-name) is only used with redis.mode sentinel"));
    assertThatThrownBy(() -> load("--redis.mode", "cluster", "--redis.nodes", "redis://n:7000/2"))
        .hasMessageContaining("a Redis Cluster has only database 0");
  }

  @Test
  void badValuesAreRefusedWithoutShowingPasswords() {
    assertThatThrownBy(() -> load("--redis.mode", "replication"))
        .isInstanceOfSatisfying(ConfigurationException.class, e -> assertThat(e.problems()).containsExactly(
            "redis.mode (from flag --redis.mode): 'replication' must be one of standalone, cluster, sentinel"));
    assertThatThrownBy(() -> load("--redis.mode", "cluster", "--redis.nodes", "redis://:s3cret@n1:7000,http://:pw2@n2:7000"))
        .isInstanceOfSatisfying(ConfigurationException.class, e -> assertThat(e.problems()).containsExactly(
            "redis.nodes (from flag --redis.nodes): 'redis://:***@n1:7000,http://:***@n2:7000' URL 2 must start with redis:// or rediss:// (TLS)"))
        .hasMessageNotContaining("s3cret")
        .hasMessageNotContaining("pw2");
    assertThatThrownBy(() -> load("--redis.mode", "cluster", "--redis.nodes", "redis://n1:7000,,redis://n2:7000"))
        .hasMessageContaining("must be URLs separated by single commas");
    assertThatThrownBy(() -> load("--redis.mode", "cluster", "--redis.nodes", "redis://n1:7000,redis://n1:7000"))
        .hasMessageContaining("URL 2 is given twice");
  }
}
