package dev.quotaproxy.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The redis.* and quota.* settings other than quota.scopes (see {@link ScopeLimitSettingsTest}). */
class QuotaConfigTest {
  @TempDir Path dir;

  @Test
  void defaultsStartAnEmbeddedRedisAndLimitNothing() {
    ProxyConfig config = ProxyConfig.load(List.of("--upstream", "http://r"), Map.of());

    assertThat(config.redis().url()).isEmpty();
    assertThat(config.redis().embedded()).isTrue();
    assertThat(config.redis().poolSize()).isEqualTo(32);
    assertThat(config.quota().failOpen()).isFalse();
    assertThat(config.quota().reservationTtl()).isEqualTo(Duration.ofHours(1));
    assertThat(config.quota().chunkReservation()).isEqualTo(8L * 1024 * 1024);
    assertThat(config.quota().system()).isEqualTo(new ProxyConfig.SystemQuota(-1, 1.0, false, Duration.ofSeconds(1)));
    assertThat(config.quota().scopes()).isEmpty();
  }

  @Test
  void flagsBeatEnvironmentWhichBeatsTheFile() throws IOException {
    Path yaml = Files.writeString(dir.resolve("c.yaml"), """
        upstream: {url: 'http://r'}
        redis:
          url: redis://file:6379
          pool-size: 8
        quota:
          reservation-ttl: 10m
          chunk-reservation: 1MiB
          system:
            hard-storage: 1T
            write-ratio: 90
            refresh: 5s
        """);
    Map<String, String> env = Map.of(
        "QUOTA_PROXY_CONFIG", yaml.toString(),
        "QUOTA_PROXY_REDIS_URL", "rediss://env:6380/1",
        "QUOTA_PROXY_QUOTA_SYSTEM_WRITE_RATIO", "95%",
        "QUOTA_PROXY_QUOTA_SYSTEM_READ_ONLY", "yes",
        "QUOTA_PROXY_QUOTA_CHUNK_RESERVATION", "2MiB");

    ProxyConfig config = ProxyConfig.load(
        List.of("--quota.fail-open", "--quota.chunk-reservation=4M", "--quota.system.hard-storage", "500GB"), env);

    assertThat(config.redis().url()).contains(URI.create("rediss://env:6380/1"));
    assertThat(config.redis().embedded()).isFalse();
    assertThat(config.redis().poolSize()).isEqualTo(8);
    assertThat(config.quota().failOpen()).isTrue();
    assertThat(config.quota().reservationTtl()).isEqualTo(Duration.ofMinutes(10));
    assertThat(config.quota().chunkReservation()).isEqualTo(4L * 1024 * 1024);
    assertThat(config.quota().system()).isEqualTo(new ProxyConfig.SystemQuota(500_000_000_000L, 0.95, true, Duration.ofSeconds(5)));
  }

  @ParameterizedTest
  @CsvSource({"95,0.95", "95%,0.95", "100%,1.0", "12.5%,0.125"})
  void writeRatioTakesAPercentageWithOrWithoutItsSign(String text, double fraction) {
    ProxyConfig config = ProxyConfig.load(List.of("--upstream", "http://r", "--quota.system.write-ratio", text), Map.of());

    assertThat(config.quota().system().writeRatio()).isEqualTo(fraction);
  }

  @Test
  void everyRefusalSaysWhyWithItsSource() {
    assertThatThrownBy(() -> ProxyConfig.load(List.of("--upstream", "http://r",
        "--redis.url", "http://redis:6379",
        "--redis.pool-size", "0",
        "--quota.fail-open=sometimes",
        "--quota.reservation-ttl", "500ms",
        "--quota.chunk-reservation", "32K",
        "--quota.system.hard-storage", "lots",
        "--quota.system.write-ratio", "150%",
        "--quota.system.refresh", "50ms"),
        Map.of("QUOTA_PROXY_QUOTA_SYSTEM_READ_ONLY", "maybe")))
        .isInstanceOfSatisfying(ConfigurationException.class, e -> assertThat(e.problems()).containsExactlyInAnyOrder(
            "redis.url (from flag --redis.url): 'http://redis:6379' must start with redis:// or rediss:// (TLS)",
            "redis.pool-size (from flag --redis.pool-size): '0' must be between 1 and 10000",
            "quota.fail-open (from flag --quota.fail-open): 'sometimes' must be true or false",
            "quota.reservation-ttl (from flag --quota.reservation-ttl): '500ms' must be at least 1000ms",
            "quota.chunk-reservation (from flag --quota.chunk-reservation): '32K' must be at least 64.0 KiB",
            "quota.system.hard-storage (from flag --quota.system.hard-storage): 'lots' must be a size like 500M, 1G, 2TiB, 10GB or a number of bytes (-1 for unlimited)",
            "quota.system.write-ratio (from flag --quota.system.write-ratio): '150%' must be at most 100%",
            "quota.system.refresh (from flag --quota.system.refresh): '50ms' must be at least 100ms",
            "quota.system.read-only (from environment QUOTA_PROXY_QUOTA_SYSTEM_READ_ONLY): 'maybe' must be true or false"));
  }

  @Test
  void writeRatioOfZeroAndUnlimitedChunksAreRefused() {
    assertThatThrownBy(() -> ProxyConfig
        .load(List.of("--upstream", "http://r", "--quota.system.write-ratio", "0", "--quota.chunk-reservation", "-1"), Map.of()))
        .isInstanceOfSatisfying(ConfigurationException.class, e -> assertThat(e.problems()).containsExactlyInAnyOrder(
            "quota.system.write-ratio (from flag --quota.system.write-ratio): '0' must be more than 0%",
            "quota.chunk-reservation (from flag --quota.chunk-reservation): '-1' must be at least 64.0 KiB"));
  }

  @Test
  void smallestChunkReservationIs64KiB() {
    ProxyConfig config = ProxyConfig.load(List.of("--upstream", "http://r", "--quota.chunk-reservation", "64KiB"), Map.of());

    assertThat(config.quota().chunkReservation()).isEqualTo(65536);
  }

  @Test
  void redisPasswordsStayOutOfMessagesAndToStringButReachTheClient() {
    assertThatThrownBy(() -> ProxyConfig.load(List.of("--upstream", "http://r", "--redis.url", "redis://app:s3cret@h/zero"), Map.of()))
        .isInstanceOfSatisfying(ConfigurationException.class, e -> assertThat(e.problems()).containsExactly(
            "redis.url (from flag --redis.url): 'redis://app:***@h/zero' may have only a database number after the host,"
                + " like redis://redis.internal:6379/0"))
        .hasMessageNotContaining("s3cret");

    ProxyConfig config = ProxyConfig.load(List.of("--upstream", "http://r", "--redis.url", "rediss://:s3cret@h:6380/2"), Map.of());
    assertThat(config.redis().url()).contains(URI.create("rediss://:s3cret@h:6380/2"));
    assertThat(config.redis().toString()).isEqualTo("Redis[url=rediss://:***@h:6380/2, poolSize=32]");
    assertThat(config.toString()).doesNotContain("s3cret");
    assertThat(ProxyConfig.load(List.of("--upstream", "http://r"), Map.of()).redis().toString())
        .isEqualTo("Redis[url=embedded, poolSize=32]");
  }

  @Test
  void environmentVariablesFollowTheKeys() {
    assertThat(ProxyConfig.QUOTA_SYSTEM_WRITE_RATIO.envName()).isEqualTo("QUOTA_PROXY_QUOTA_SYSTEM_WRITE_RATIO");
    assertThat(ProxyConfig.QUOTA_CHUNK_RESERVATION.envName()).isEqualTo("QUOTA_PROXY_QUOTA_CHUNK_RESERVATION");
    assertThat(ProxyConfig.REDIS_POOL_SIZE.envName()).isEqualTo("QUOTA_PROXY_REDIS_POOL_SIZE");
  }
}
