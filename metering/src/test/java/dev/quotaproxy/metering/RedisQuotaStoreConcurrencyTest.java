package dev.quotaproxy.metering;

import static dev.quotaproxy.metering.RedisQuotaStoreTest.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.oci.Blob;
import dev.quotaproxy.metering.QuotaStore.EgressGrant;
import dev.quotaproxy.metering.QuotaStore.Reservation;
import dev.quotaproxy.metering.QuotaStore.ScopeState;
import dev.quotaproxy.config.Limits;
import dev.quotaproxy.metering.support.StoreOnRedis;
import dev.quotaproxy.metering.support.RedisStoreExtension;
import io.vertx.core.Future;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Many uploads racing for the last bytes of a quota, through one pool and through two separate
 * clients (as two proxy instances would): the scripts' atomicity must grant exactly what fits.
 */
class RedisQuotaStoreConcurrencyTest {
  private static final long MIB = 1024 * 1024;
  private static final String REPOSITORY = "acme/team/app";

  @RegisterExtension static final RedisStoreExtension fixture = RedisStoreExtension.flushedPerTest();

  @Test
  void thirtyTwoUploadsIntoTenMebibytesThroughOnePool() {
    StoreOnRedis one = StoreOnRedis.open(fixture.vertx(), fixture.redis().url(), 8, Duration.ofMinutes(10));
    try {
      await(one.putLimits("acme", new Limits(10 * MIB, -1, -1, 3600)));

      List<Future<Boolean>> uploads = new ArrayList<>();
      for (int i = 0; i < 32; i++) {
        uploads.add(upload(one.store(), "upload-" + i));
      }

      assertExactlyTenGranted(uploads, one.store());
    } finally {
      await(one.close());
    }
  }

  @Test
  void sixteenUploadsEachFromTwoSeparateClients() {
    StoreOnRedis first = StoreOnRedis.open(fixture.vertx(), fixture.redis().url(), 4, Duration.ofMinutes(10));
    StoreOnRedis second = StoreOnRedis.open(fixture.vertx(), fixture.redis().url(), 4, Duration.ofMinutes(10));
    try {
      await(first.putLimits("acme", new Limits(10 * MIB, -1, -1, 3600)));

      List<Future<Boolean>> uploads = new ArrayList<>();
      for (int i = 0; i < 16; i++) {
        uploads.add(upload(first.store(), "first-" + i));
        uploads.add(upload(second.store(), "second-" + i));
      }

      assertExactlyTenGranted(uploads, first.store());
    } finally {
      await(first.close());
      await(second.close());
    }
  }

  @Test
  void thirtyTwoSessionsReservingAndSettlingIntoTenMebibytesHoldExactlyTenThenCommitWhatTheyHold() {
    StoreOnRedis first = StoreOnRedis.open(fixture.vertx(), fixture.redis().url(), 4, Duration.ofMinutes(10));
    StoreOnRedis second = StoreOnRedis.open(fixture.vertx(), fixture.redis().url(), 4, Duration.ofMinutes(10));
    try {
      await(first.putLimits("acme", new Limits(10 * MIB, -1, -1, 3600)));
      List<RedisQuotaStore> stores = new ArrayList<>();
      for (int i = 0; i < 32; i++) {
        stores.add((i % 2 == 0 ? first : second).store());
        await(stores.get(i).openSession(REPOSITORY, "session-" + i));
      }

      // Each session's chunk: reserved under a request id, then settled into the session, a little less stored than sent.
      List<Future<Long>> chunks = new ArrayList<>();
      for (int i = 0; i < 32; i++) {
        RedisQuotaStore store = stores.get(i);
        String patch = "patch-" + i;
        String session = "session-" + i;
        long stored = MIB - i;
        chunks.add(store.reserveBytes(REPOSITORY, patch, session, MIB, MIB).compose(reservation -> reservation.granted()
            ? store.settle(REPOSITORY, patch, session, stored, false).map(stored)
            : store.settle(REPOSITORY, patch, session, 0, false).map(0L)));
      }
      await(Future.all(chunks));

      assertThat(chunks.stream().filter(chunk -> chunk.result() > 0).count()).isEqualTo(10);
      long held = chunks.stream().mapToLong(Future::result).sum();
      assertThat(await(first.store().scope("acme")).reserved()).as("what the ten sessions hold, the rest released").isEqualTo(held);
      long sessionsHold = 0;
      for (int i = 0; i < 32; i++) {
        sessionsHold += await(first.store().session(REPOSITORY, "session-" + i)).held();
      }
      assertThat(sessionsHold).isEqualTo(held);

      // Each session is committed at what it holds: the blob's size the proxy counted.
      List<Future<?>> commits = new ArrayList<>();
      for (int i = 0; i < 32; i++) {
        long size = chunks.get(i).result();
        String session = "session-" + i;
        commits.add(size > 0
            ? stores.get(i).commitBlob(REPOSITORY, "put-" + i, session, new Blob("sha256:" + session, size), "tester")
            : stores.get(i).release(REPOSITORY, session, -1));
      }
      await(Future.all(commits));

      ScopeState acme = await(first.store().scope("acme"));
      assertThat(acme.used()).isEqualTo(held);
      assertThat(acme.reserved()).isZero();
      assertThat(await(first.store().scope(REPOSITORY)).reserved()).isZero();
    } finally {
      await(first.close());
      await(second.close());
    }
  }

  @Test
  void settlesRacingTheirSessionsCommitLeaveNothingReserved() {
    StoreOnRedis first = StoreOnRedis.open(fixture.vertx(), fixture.redis().url(), 4, Duration.ofMinutes(10));
    StoreOnRedis second = StoreOnRedis.open(fixture.vertx(), fixture.redis().url(), 4, Duration.ofMinutes(10));
    try {
      await(first.putLimits("acme", new Limits(100 * MIB, -1, -1, 3600)));
      for (int i = 0; i < 32; i++) {
        await(first.store().reserveBytes(REPOSITORY, "patch-" + i, "session-" + i, MIB, MIB));
      }

      // Whichever lands first, the bytes end released: by the commit, or by the settle into a retired session.
      List<Future<?>> races = new ArrayList<>();
      for (int i = 0; i < 32; i++) {
        races.add(first.store().settle(REPOSITORY, "patch-" + i, "session-" + i, MIB, false));
        races.add(second.store().commitBlob(REPOSITORY, "put-" + i, "session-" + i, new Blob("sha256:" + i, MIB), "tester"));
      }
      await(Future.all(races));

      assertThat(await(first.store().scope("acme")).reserved()).isZero();
      assertThat(await(first.store().scope("acme")).used()).isEqualTo(32 * MIB);
    } finally {
      await(first.close());
      await(second.close());
    }
  }

  @Test
  void reservesRacingTheirReleasesLeaveNothingReserved() {
    StoreOnRedis first = StoreOnRedis.open(fixture.vertx(), fixture.redis().url(), 4, Duration.ofMinutes(10));
    StoreOnRedis second = StoreOnRedis.open(fixture.vertx(), fixture.redis().url(), 4, Duration.ofMinutes(10));
    try {
      await(first.putLimits("acme", new Limits(100 * MIB, -1, -1, 3600)));

      // A release that overtakes its reserve (as after a timeout) retires the id: the reserve then grants nothing.
      List<Future<?>> races = new ArrayList<>();
      for (int i = 0; i < 32; i++) {
        races.add(first.store().reserveBytes(REPOSITORY, "patch-" + i, null, MIB, MIB));
        races.add(second.store().release(REPOSITORY, "patch-" + i, -1));
      }
      await(Future.all(races));

      assertThat(await(first.store().scope("acme")).reserved()).isZero();
      for (int i = 0; i < 32; i++) {
        assertThat(await(first.store().reserveBytes(REPOSITORY, "patch-" + i, null, 1, 1))).isEqualTo(Reservation.RETIRED);
      }
    } finally {
      await(first.close());
      await(second.close());
    }
  }

  @Test
  void tenConcurrentPullsOfTwoMebibytesUnderAThreeMebibyteLimitAllowExactlyOne() {
    StoreOnRedis first = StoreOnRedis.open(fixture.vertx(), fixture.redis().url(), 4, Duration.ofMinutes(10));
    StoreOnRedis second = StoreOnRedis.open(fixture.vertx(), fixture.redis().url(), 4, Duration.ofMinutes(10));
    try {
      await(first.putLimits("acme/team", new Limits(-1, -1, 3 * MIB, 3600)));

      List<Future<EgressGrant>> pulls = new ArrayList<>();
      for (int i = 0; i < 10; i++) {
        pulls.add((i % 2 == 0 ? first : second).store().reserveEgress(REPOSITORY, 2 * MIB));
      }
      await(Future.all(pulls));

      assertThat(pulls.stream().filter(pull -> pull.result().allowed()).count()).isEqualTo(1);
      assertThat(await(first.usage().scopeUsage("acme/team")).usage().egressUsed()).isEqualTo(2 * MIB);
    } finally {
      await(first.close());
      await(second.close());
    }
  }

  @Test
  void concurrentPullsAreAllowedExactlyUpToTheEgressLimit() {
    StoreOnRedis first = StoreOnRedis.open(fixture.vertx(), fixture.redis().url(), 4, Duration.ofMinutes(10));
    StoreOnRedis second = StoreOnRedis.open(fixture.vertx(), fixture.redis().url(), 4, Duration.ofMinutes(10));
    try {
      await(first.putLimits("acme", new Limits(-1, -1, 10 * MIB, 3600)));
      await(first.putLimits(REPOSITORY, new Limits(-1, -1, 7 * MIB, 3600)));

      // Each allowed pull settles all it reserved, racing the others' reserves: settling must not open room.
      List<Future<Boolean>> pulls = new ArrayList<>();
      for (int i = 0; i < 32; i++) {
        RedisQuotaStore store = (i % 2 == 0 ? first : second).store();
        pulls.add(store.reserveEgress(REPOSITORY, MIB).compose(grant -> grant.allowed()
            ? store.settleEgress(REPOSITORY, grant, MIB).map(true)
            : Future.succeededFuture(false)));
      }
      await(Future.all(pulls));

      assertThat(pulls.stream().filter(Future::result).count()).isEqualTo(7);
      assertThat(await(first.usage().scopeUsage(REPOSITORY)).usage().egressUsed()).isEqualTo(7 * MIB);
      assertThat(await(first.usage().scopeUsage("acme")).usage().egressUsed()).isEqualTo(7 * MIB);
    } finally {
      await(first.close());
      await(second.close());
    }
  }

  /** Reserves 1 MiB and, if granted, commits a blob of its own: true when it was granted. */
  private static Future<Boolean> upload(RedisQuotaStore store, String id) {
    return store.reserveBytes(REPOSITORY, id, null, MIB, MIB).compose(reservation -> {
      if (!reservation.granted()) {
        return Future.succeededFuture(false);
      }
      return store.commitBlob(REPOSITORY, id, null, new Blob("sha256:" + id, MIB), "tester").map(commit -> {
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
