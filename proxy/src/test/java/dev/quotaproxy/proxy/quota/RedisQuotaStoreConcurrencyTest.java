package dev.quotaproxy.proxy.quota;

import static dev.quotaproxy.proxy.quota.RedisQuotaStoreTest.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.proxy.quota.QuotaStore.Blob;
import dev.quotaproxy.proxy.quota.QuotaStore.ScopeLimits;
import dev.quotaproxy.proxy.quota.QuotaStore.ScopeState;
import dev.quotaproxy.proxy.support.TestRedis;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Many uploads racing for the last bytes of a quota, through one pool and through two separate
 * clients (as two proxy instances would): the scripts' atomicity must grant exactly what fits.
 */
class RedisQuotaStoreConcurrencyTest {
  private static final long MIB = 1024 * 1024;
  private static final String REPOSITORY = "acme/team/app";

  private static TestRedis redis;
  private static Vertx vertx;

  @BeforeAll
  static void startRedis() {
    redis = TestRedis.start();
    vertx = Vertx.vertx();
  }

  @AfterAll
  static void stopRedis() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
    redis.close();
  }

  @BeforeEach
  void flush() {
    redis.flushAll();
  }

  @Test
  void thirtyTwoUploadsIntoTenMebibytesThroughOnePool() {
    RedisQuotaStore store = RedisQuotaStore.create(vertx, redis.url(), 8, Duration.ofMinutes(10));
    try {
      await(store.putLimits("acme", new ScopeLimits(10 * MIB, -1, -1, 3600)));

      List<Future<Boolean>> uploads = new ArrayList<>();
      for (int i = 0; i < 32; i++) {
        uploads.add(upload(store, "upload-" + i));
      }

      assertExactlyTenGranted(uploads, store);
    } finally {
      await(store.close());
    }
  }

  @Test
  void sixteenUploadsEachFromTwoSeparateClients() {
    RedisQuotaStore first = RedisQuotaStore.create(vertx, redis.url(), 4, Duration.ofMinutes(10));
    RedisQuotaStore second = RedisQuotaStore.create(vertx, redis.url(), 4, Duration.ofMinutes(10));
    try {
      await(first.putLimits("acme", new ScopeLimits(10 * MIB, -1, -1, 3600)));

      List<Future<Boolean>> uploads = new ArrayList<>();
      for (int i = 0; i < 16; i++) {
        uploads.add(upload(first, "first-" + i));
        uploads.add(upload(second, "second-" + i));
      }

      assertExactlyTenGranted(uploads, first);
    } finally {
      await(first.close());
      await(second.close());
    }
  }

  /** Reserves 1 MiB and, if granted, commits a blob of its own: true when it was granted. */
  private static Future<Boolean> upload(RedisQuotaStore store, String id) {
    return store.reserveBytes(REPOSITORY, id, MIB, MIB).compose(reservation -> {
      if (!reservation.granted()) {
        return Future.succeededFuture(false);
      }
      return store.commitBlob(REPOSITORY, id, new Blob("sha256:" + id, -1), "tester").map(commit -> {
        assertThat(commit.size()).isEqualTo(MIB);
        return true;
      });
    });
  }

  private static void assertExactlyTenGranted(List<Future<Boolean>> uploads, RedisQuotaStore store) {
    await(Future.all(uploads));
    long granted = uploads.stream().filter(Future::result).count();

    assertThat(granted).isEqualTo(10);
    ScopeState acme = await(store.scope("acme"));
    assertThat(acme.used()).isEqualTo(10 * MIB);
    assertThat(acme.reserved()).isZero();
    assertThat(await(store.scope(REPOSITORY)).used()).isEqualTo(10 * MIB);
  }
}
