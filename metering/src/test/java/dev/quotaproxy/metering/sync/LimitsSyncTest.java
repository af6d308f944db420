package dev.quotaproxy.metering.sync;

import static dev.quotaproxy.testing.Eventually.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.config.Limits;
import dev.quotaproxy.config.ProxyConfig;
import dev.quotaproxy.config.SystemSettings;
import dev.quotaproxy.ledger.EmbeddedPostgresServer;
import dev.quotaproxy.ledger.limits.LimitsLedger;
import dev.quotaproxy.metering.support.StoreOnRedis;
import dev.quotaproxy.metering.support.TestRedis;
import io.vertx.core.Vertx;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Postgres to Redis: what converges after a lost write, and what an older copy may not undo. Real Redis, real Postgres. */
class LimitsSyncTest {
  static TestRedis redis;
  static EmbeddedPostgresServer postgres;
  static Vertx vertx;
  static StoreOnRedis stores;
  static LimitsLedger ledger;
  static LimitsSync sync;

  @BeforeAll
  static void start() throws Exception {
    redis = TestRedis.start();
    postgres = EmbeddedPostgresServer.start();
    postgres.database().migrate();
    vertx = Vertx.vertx();
    stores = StoreOnRedis.open(vertx, redis.url(), 2, Duration.ofHours(1));
    ledger = new LimitsLedger(postgres.database().pool(vertx, 2));
    Path config = Files.writeString(Files.createTempFile("limits-sync", ".yaml"), """
        quota:
          system: {hard-storage: 1G, write-ratio: 90%}
          scopes:
            filed: {storage-hard: 1MiB}
        """);
    sync = new LimitsSync(ledger, stores.limits(),
        ProxyConfig.load(List.of("--config", config.toString(), "--upstream", "http://127.0.0.1:5000"), Map.of()));
  }

  @AfterAll
  static void stop() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
    postgres.close();
    redis.close();
  }

  @Test
  void theFirstSyncRecordsTheFileAndAChangeThatNeverReachedRedisArrivesWithTheNext() throws Exception {
    await(sync.syncOnce());
    assertThat(await(stores.store().scope("filed")).limits().storageHard()).isEqualTo(1 << 20);
    assertThat(await(stores.limits().systemSettings())).contains(new SystemSettings(1L << 30, 0.9, false, false, 30));

    // Committed to Postgres, and the process died before writing Redis.
    await(ledger.putLimits("crashed", new Limits(5000, -1, -1, 3600), "ops"));
    await(ledger.updateSettings(s -> new SystemSettings(s.hardStorage(), s.writeRatio(), true, s.allowOvercommit(), s.retentionDays()),
        "ops"));
    assertThat(await(stores.store().scope("crashed")).limits().storageHard()).isEqualTo(-1);

    await(sync.syncOnce());
    assertThat(await(stores.store().scope("crashed")).limits().storageHard()).isEqualTo(5000);
    assertThat(await(stores.limits().systemSettings()).orElseThrow().readOnlyForced()).isTrue();
  }

  @Test
  void anOlderRevisionNeverUndoesANewerOne() throws Exception {
    var first = await(ledger.putLimits("raced", new Limits(1000, -1, -1, 3600), "ops")).after();
    var second = await(ledger.putLimits("raced", new Limits(2000, -1, -1, 3600), "ops")).after();
    // The API writes the newer change; a sync that read the row before it lands afterwards.
    assertThat(await(stores.limits().putLimits("raced", new Limits(2000, -1, -1, 3600), second.revision()))).isTrue();
    assertThat(await(stores.limits().putLimits("raced", new Limits(1000, -1, -1, 3600), first.revision()))).isFalse();
    assertThat(await(stores.store().scope("raced")).limits().storageHard()).isEqualTo(2000);

    var settings = await(ledger.settings());
    assertThat(await(stores.limits().putSystemSettings(new SystemSettings(1, 0.5, false, false, 30), settings.revision() + 1))).isTrue();
    assertThat(await(stores.limits().putSystemSettings(new SystemSettings(2, 0.5, false, false, 30), settings.revision()))).isFalse();
    assertThat(await(stores.limits().systemSettings()).orElseThrow().hardStorage()).isEqualTo(1);
  }
}
