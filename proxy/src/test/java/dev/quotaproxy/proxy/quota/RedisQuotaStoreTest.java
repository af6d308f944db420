package dev.quotaproxy.proxy.quota;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.quotaproxy.proxy.quota.QuotaStore.Blob;
import dev.quotaproxy.proxy.quota.QuotaStore.Commit;
import dev.quotaproxy.proxy.quota.QuotaStore.Denial;
import dev.quotaproxy.proxy.quota.QuotaStore.EgressCheck;
import dev.quotaproxy.proxy.quota.QuotaStore.Reservation;
import dev.quotaproxy.proxy.quota.QuotaStore.ScopeLimits;
import dev.quotaproxy.proxy.quota.QuotaStore.ScopeState;
import dev.quotaproxy.proxy.quota.QuotaStore.SystemSettings;
import dev.quotaproxy.proxy.quota.QuotaStore.SystemUsage;
import dev.quotaproxy.proxy.quota.QuotaStore.Traffic;
import dev.quotaproxy.proxy.support.TestRedis;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The Redis quota store against a real Redis: every operation, and the accounting rules behind them. */
class RedisQuotaStoreTest {
  private static final String APP = "acme/team/app";
  private static final String WEB = "acme/team/web";

  private static TestRedis redis;
  private static Vertx vertx;
  private RedisQuotaStore store;

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
  void freshStore() {
    redis.flushAll();
    // A store per test: its memory of registered namespaces must not outlive the FLUSHALL.
    store = RedisQuotaStore.create(vertx, redis.url(), 8, Duration.ofMinutes(10));
    await(store.loadScripts());
  }

  @AfterEach
  void closeStore() {
    await(store.close());
  }

  // --- usage: blobs count once per scope -------------------------------------------------------

  @Test
  void everyCommittedChangeIsAnEventInTheNamespacesStreamWithItsUser() {
    await(store.reserveBytes(APP, "u1", 300, 300));
    await(store.commitBlob(APP, "u1", blob("a", 300), "alice"));
    await(store.commitBlob(WEB, "u2", blob("a", 300), "bob"));
    await(store.commitManifest(APP, "m", blob("m", 50), List.of(blob("a", 300)), "alice"));
    await(store.dropManifest(APP, "sha256:m", "carol"));
    await(store.meter(APP, "dave", new Traffic(10, 20, 1, 0)));
    await(store.recordRejection(APP, "erin", new QuotaStore.Rejection("acme", "storage_bytes", 5, 350, 300, "storage_limit")));

    List<Map<String, String>> events = events("acme");

    assertThat(events).extracting(e -> e.get("type") + " " + e.get("repo") + " " + e.get("user") + " " + e.getOrDefault("digest", "")
        + " " + e.getOrDefault("scopes", "")).containsExactly(
        "blob_added acme/team/app alice sha256:a acme,acme/team,acme/team/app",
        "blob_added acme/team/web bob sha256:a acme/team/web",
        "blob_added acme/team/app alice sha256:m acme,acme/team,acme/team/app",
        "manifest_added acme/team/app alice sha256:m ",
        "manifest_removed acme/team/app carol sha256:m ",
        "blob_removed acme/team/app carol sha256:m acme,acme/team,acme/team/app",
        "blob_removed acme/team/app carol sha256:a acme/team/app",
        "traffic acme/team/app dave  ",
        "rejection acme/team/app erin  ");
    assertThat(events.get(0)).containsEntry("size", "300");
    assertThat(events.get(3)).containsEntry("refs", "sha256:a");
    assertThat(events.get(7)).containsEntry("ingress", "10").containsEntry("egress", "20").containsEntry("pushes", "1").containsKey("hour");
    assertThat(events.get(8)).containsEntry("scope", "acme").containsEntry("requested", "5").containsEntry("reason", "storage_limit");
  }

  @Test
  void aNamespaceWhoseStateIsNotKnownIsRecoveredBeforeAnythingIsDecidedOrChanged() {
    List<String> recovered = new java.util.concurrent.CopyOnWriteArrayList<>();
    store.withRecovery(namespace -> {
      recovered.add(namespace);
      return store.markKnown(namespace, "epoch-1");
    });
    try {
      await(store.reserveBytes(APP, "u1", 10, 10));
      await(store.commitBlob(APP, "u1", blob("a", 10), "alice"));
      redis.command(Request.cmd(Command.DEL).arg("qp:{acme}:epoch"));
      await(store.dropBlob(APP, "sha256:a", "alice"));

      assertThat(recovered).containsExactly("acme", "acme");
      assertThat(redis.command(Request.cmd(Command.GET).arg("qp:{acme}:epoch")).toString()).isEqualTo("epoch-1");
      assertThat(used(APP)).isZero();
    } finally {
      store.withRecovery(namespace -> store.markKnown(namespace, "new"));
    }
  }

  @Test
  void aNamespaceThatCannotBeRecoveredRefusesTheCall() throws Exception {
    store.withRecovery(namespace -> Future.failedFuture(new IllegalStateException("ledger unreachable")));
    try {
      Throwable failure = store.reserveBytes(APP, "u1", 10, 10).transform(Future::succeededFuture)
          .await(10, TimeUnit.SECONDS).cause();

      assertThat(failure).hasMessage("ledger unreachable");
      assertThat(reserved(APP)).isZero();
    } finally {
      store.withRecovery(namespace -> store.markKnown(namespace, "new"));
    }
  }

  @Test
  void aDecisionAloneWritesNoEvent() {
    await(store.reserveBytes(APP, "u1", 300, 300));
    await(store.release(APP, "u1", -1));
    await(store.commitBlob(APP, "u2", blob("a", 300), "alice"));
    await(store.commitBlob(APP, "u3", blob("a", 300), "alice"));

    assertThat(events("acme")).extracting(e -> e.get("type")).as("the second commit changed nothing").containsExactly("blob_added");
  }

  private static List<Map<String, String>> events(String namespace) {
    List<Map<String, String>> events = new java.util.ArrayList<>();
    for (Response entry : redis.command(Request.cmd(Command.XRANGE).arg("qp:{" + namespace + "}:events").arg("-").arg("+"))) {
      Response fields = entry.get(1);
      Map<String, String> event = new HashMap<>();
      for (int i = 0; i < fields.size(); i += 2) {
        event.put(fields.get(i).toString(), fields.get(i + 1).toString());
      }
      events.add(event);
    }
    return events;
  }

  @Test
  void aRedisThatStopsAnsweringFailsTheCallInsteadOfHoldingIt() throws Exception {
    // Accepts connections and reads commands, never answers: a hung Redis.
    int port = vertx.createNetServer().connectHandler(socket -> socket.handler(ignored -> { }))
        .listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS).actualPort();
    RedisQuotaStore silent = RedisQuotaStore.create(vertx, "redis://127.0.0.1:" + port, 2, Duration.ofHours(1));

    Throwable failure = silent.reserveBytes(APP, "u1", 1, 1).transform(Future::succeededFuture)
        .await(10, TimeUnit.SECONDS).cause();

    assertThat(failure).isInstanceOf(java.util.concurrent.TimeoutException.class);
  }

  @Test
  void aBlobSharedByTwoRepositoriesCountsOnceInTheirAncestorsAndOnceInEach() {
    commit(APP, blob("a", 100));
    commit(WEB, blob("a", 100));
    commit("acme/other", blob("a", 100));

    assertThat(used("acme")).isEqualTo(100);
    assertThat(used("acme/team")).isEqualTo(100);
    assertThat(used(APP)).isEqualTo(100);
    assertThat(used(WEB)).isEqualTo(100);
    assertThat(used("acme/other")).isEqualTo(100);
  }

  @Test
  void theSameBlobCommittedTwiceCostsNothingTheSecondTime() {
    Commit first = commit(APP, blob("a", 100));
    Commit second = commit(APP, blob("a", 100));

    assertThat(first.scopes()).extracting(ScopeState::used).containsExactly(100L, 100L, 100L);
    assertThat(second.sizeKnown()).isTrue();
    assertThat(second.scopes()).extracting(ScopeState::scope).containsExactly("acme", "acme/team", APP);
    assertThat(second.scopes()).extracting(ScopeState::used).containsExactly(100L, 100L, 100L);
  }

  @Test
  void commitReportsEveryScopeOfThePathWithItsLimits() {
    ScopeLimits teamLimits = new ScopeLimits(5000, 4000, 900, 60);
    await(store.putLimits("acme/team", teamLimits));
    await(store.reserveBytes(APP, "other-upload", 7, 7));

    Commit commit = commit(APP, blob("a", 100));

    assertThat(commit.size()).isEqualTo(100);
    assertThat(commit.scopes()).containsExactly(
        new ScopeState("acme", 100, 7, ScopeLimits.UNLIMITED),
        new ScopeState("acme/team", 100, 7, teamLimits),
        new ScopeState(APP, 100, 7, ScopeLimits.UNLIMITED));
  }

  @Test
  void aCommitReleasesItsReservationWhole() {
    await(store.reserveBytes(APP, "u1", 500, 500));

    Commit commit = await(store.commitBlob(APP, "u1", blob("a", 300), "tester"));

    assertThat(commit.scopes()).extracting(ScopeState::reserved).containsExactly(0L, 0L, 0L);
    assertThat(commit.scopes()).extracting(ScopeState::used).containsExactly(300L, 300L, 300L);
  }

  @Test
  void aSizeOfMinusOneCommitsTheSessionTotal() {
    await(store.reserveBytes(APP, "u1", 300, 300));
    await(store.reserveBytes(APP, "u1", 0, 200));

    Commit commit = await(store.commitBlob(APP, "u1", blob("a", -1), "tester"));

    assertThat(commit.sizeKnown()).isTrue();
    assertThat(commit.size()).isEqualTo(500);
    assertThat(used(APP)).isEqualTo(500);
    assertThat(await(store.sizeOf("acme", "sha256:a"))).isEqualTo(500);
  }

  @Test
  void aSessionTotalThatExpiredIsUnknownAndChangesNothing() {
    Commit commit = await(store.commitBlob(APP, "never-reserved", blob("a", -1), "tester"));

    assertThat(commit.sizeKnown()).isFalse();
    assertThat(commit.scopes()).extracting(ScopeState::used).containsExactly(0L, 0L, 0L);
    assertThat(await(store.sizeOf("acme", "sha256:a"))).isEqualTo(-1);
  }

  // --- manifests -------------------------------------------------------------------------------

  @Test
  void aManifestReputUnderAnotherTagCostsNothing() {
    List<Blob> references = List.of(blob("layer", 1000), blob("config", 10));
    Commit first = await(store.commitManifest(APP, "tag-1", blob("m", 50), references, "tester"));
    Commit again = await(store.commitManifest(APP, "tag-2", blob("m", 50), references, "tester"));

    assertThat(first.scopes()).extracting(ScopeState::used).containsOnly(1060L);
    assertThat(again.scopes()).extracting(ScopeState::used).containsOnly(1060L);

    // Its references were counted once: a single delete frees everything.
    await(store.dropManifest(APP, "sha256:m", "tester"));
    assertThat(used("acme")).isZero();
    assertThat(used(APP)).isZero();
  }

  @Test
  void droppingOneOfTwoImagesSharingABaseLayerFreesOnlyItsOwnBlobs() {
    await(store.commitManifest(APP, "push-1", blob("m1", 50), List.of(blob("base", 1000), blob("l1", 200), blob("c1", 10)), "tester"));
    await(store.commitManifest(APP, "push-2", blob("m2", 60), List.of(blob("base", 1000), blob("l2", 300), blob("c2", 20)), "tester"));
    assertThat(used(APP)).isEqualTo(50 + 60 + 1000 + 200 + 10 + 300 + 20);

    QuotaStore.Change change = await(store.dropManifest(APP, "sha256:m1", "tester"));

    assertThat(change.scopes()).extracting(ScopeState::used).containsOnly(60L + 1000 + 300 + 20);
    assertThat(await(store.sizeOf("acme", "sha256:base"))).isEqualTo(1000);
    assertThat(await(store.sizeOf("acme", "sha256:l1"))).isEqualTo(-1);

    await(store.dropManifest(APP, "sha256:m2", "tester"));
    assertThat(used("acme")).isZero();
  }

  @Test
  void aManifestAnIndexStillReferencesStaysUntilTheIndexGoes() {
    await(store.commitManifest(APP, "child", blob("child", 40), List.of(blob("layer", 1000)), "tester"));
    await(store.commitManifest(APP, "index", blob("index", 30), List.of(blob("child", 40)), "tester"));

    await(store.dropManifest(APP, "sha256:child", "tester"));
    assertThat(used(APP)).as("the child stays for the index; its layer goes").isEqualTo(30 + 40);

    await(store.dropManifest(APP, "sha256:index", "tester"));
    assertThat(used(APP)).isZero();
  }

  @Test
  void droppingAManifestTheRepositoryDoesNotListDropsItAsABlob() {
    commit(APP, blob("m", 50));

    await(store.dropManifest(APP, "sha256:m", "tester"));

    assertThat(used(APP)).isZero();
  }

  @Test
  void dropBlobOfABlobASiblingRepositoryHoldsKeepsTheAncestorsUsage() {
    commit(APP, blob("a", 100));
    commit(WEB, blob("a", 100));

    QuotaStore.Change change = await(store.dropBlob(APP, "sha256:a", "tester"));

    assertThat(change.scopes()).extracting(ScopeState::used).containsExactly(100L, 100L, 0L);
    assertThat(used(WEB)).isEqualTo(100);
    assertThat(await(store.sizeOf("acme", "sha256:a"))).isEqualTo(100);

    await(store.dropBlob(WEB, "sha256:a", "tester"));
    assertThat(used("acme")).isZero();
    assertThat(used("acme/team")).isZero();
    assertThat(await(store.sizeOf("acme", "sha256:a"))).as("forgotten once no repository holds it").isEqualTo(-1);
  }

  @Test
  void droppingABlobTheRepositoryDoesNotHoldChangesNothing() {
    commit(WEB, blob("a", 100));

    await(store.dropBlob(APP, "sha256:a", "tester"));

    assertThat(used("acme")).isEqualTo(100);
    assertThat(used(WEB)).isEqualTo(100);
  }

  // --- reservations ----------------------------------------------------------------------------

  @Test
  void aRefusedReservationNamesTheOutermostScopeThatDoesNotFit() {
    await(store.putLimits("acme", new ScopeLimits(1000, -1, -1, 3600)));
    await(store.putLimits("acme/team", new ScopeLimits(500, -1, -1, 3600)));
    commit(WEB, blob("a", 300));
    await(store.reserveBytes(WEB, "held", 100, 100));

    Reservation teamRefuses = await(store.reserveBytes(APP, "u1", 200, 200));
    assertThat(teamRefuses.granted()).isFalse();
    assertThat(teamRefuses.grantedBytes()).isZero();
    assertThat(teamRefuses.denial()).isEqualTo(new Denial("acme/team", 300, 100, 500, 200));

    Reservation bothRefuse = await(store.reserveBytes(APP, "u1", 700, 700));
    assertThat(bothRefuse.denial()).isEqualTo(new Denial("acme", 300, 100, 1000, 700));

    assertThat(reserved("acme")).as("a refusal reserves nothing").isEqualTo(100);
  }

  @Test
  void aReservationGrantsWhatFitsBetweenMinAndMax() {
    await(store.putLimits("acme/team", new ScopeLimits(1000, -1, -1, 3600)));

    assertThat(await(store.reserveBytes(APP, "u1", 100, 800))).isEqualTo(new Reservation(800, null));
    assertThat(await(store.reserveBytes(WEB, "u2", 100, 800))).isEqualTo(new Reservation(200, null));
    Reservation none = await(store.reserveBytes(APP, "u3", 1, 10));

    assertThat(none.denial()).isEqualTo(new Denial("acme/team", 0, 1000, 1000, 1));
    assertThat(reserved("acme")).isEqualTo(1000);
    assertThat(reserved(APP)).isEqualTo(800);
    assertThat(reserved(WEB)).isEqualTo(200);
  }

  @Test
  void theCheckAtUploadStartRefusesExactlyAtTheLimit() {
    await(store.putLimits(APP, new ScopeLimits(1000, -1, -1, 3600)));
    commit(APP, blob("a", 999));

    assertThat(await(store.reserveBytes(APP, "u1", 0, 0))).isEqualTo(new Reservation(0, null));
    assertThat(redis.command(Request.cmd(Command.HEXISTS).arg("qp:{acme}:res").arg("u1")).toInteger())
        .as("a check leaves no reservation behind").isZero();

    commit(APP, blob("b", 1));
    Reservation atLimit = await(store.reserveBytes(APP, "u2", 0, 0));
    assertThat(atLimit.denial()).isEqualTo(new Denial(APP, 1000, 0, 1000, 0));
  }

  @Test
  void reserveBlobsReservesInEachScopeWhatIsAbsentThere() {
    commit(WEB, blob("a", 100));

    Reservation reservation = await(store.reserveBlobs(APP, "put", List.of(blob("a", 100), blob("b", 50), blob("b", 50))));

    assertThat(reservation).isEqualTo(new Reservation(150, null));
    assertThat(reserved(APP)).isEqualTo(150);
    assertThat(reserved("acme/team")).as("a is already in acme/team, b counts once").isEqualTo(50);
    assertThat(reserved("acme")).isEqualTo(50);
    assertThat(reserved(WEB)).isZero();

    await(store.commitManifest(APP, "put", blob("m", 0), List.of(blob("a", 100), blob("b", 50)), "tester"));
    assertThat(reserved("acme")).isZero();
    assertThat(used(APP)).isEqualTo(150);
    assertThat(used("acme")).isEqualTo(150);
  }

  @Test
  void reserveBlobsRefusesWhereTheNeedDoesNotFitAndIgnoresScopesThatNeedNothing() {
    commit(WEB, blob("a", 100));
    await(store.putLimits("acme/team", new ScopeLimits(120, -1, -1, 3600)));
    await(store.putLimits(WEB, new ScopeLimits(50, -1, -1, 3600)));

    Reservation refused = await(store.reserveBlobs(APP, "put", List.of(blob("a", 100), blob("b", 50))));
    assertThat(refused.denial()).isEqualTo(new Denial("acme/team", 100, 0, 120, 50));

    Reservation nothingNeeded = await(store.reserveBlobs(WEB, "mount", List.of(blob("a", 100))));
    assertThat(nothingNeeded).as("web is over its limit, but a needs no bytes anywhere").isEqualTo(new Reservation(0, null));
  }

  @Test
  void releaseGivesBackPartOrAllOfAReservation() {
    await(store.reserveBytes(APP, "u1", 1000, 1000));

    await(store.release(APP, "u1", 300));
    assertThat(reserved("acme")).isEqualTo(700);
    assertThat(reserved(APP)).isEqualTo(700);

    await(store.release(APP, "u1", 5000));
    assertThat(reserved(APP)).as("never more than it holds").isZero();

    await(store.reserveBytes(APP, "u2", 400, 400));
    await(store.release(APP, "u2", -1));
    assertThat(reserved("acme")).isZero();
    assertThat(await(store.commitBlob(APP, "u2", blob("a", -1), "tester")).sizeKnown()).as("released whole: gone").isFalse();
  }

  @Test
  void aPartialReleaseShrinksTheSessionTotal() {
    await(store.reserveBytes(APP, "u1", 1000, 1000));
    await(store.release(APP, "u1", 300));

    Commit commit = await(store.commitBlob(APP, "u1", blob("a", -1), "tester"));

    assertThat(commit.size()).isEqualTo(700);
    assertThat(commit.scopes()).extracting(ScopeState::reserved).containsOnly(0L);
  }

  @Test
  void anExpiredReservationIsReleasedByTheNextCall() {
    RedisQuotaStore shortLived = RedisQuotaStore.create(vertx, redis.url(), 2, Duration.ofMillis(200));
    try {
      await(shortLived.reserveBytes(APP, "u1", 500, 500));
      assertThat(reserved("acme")).isEqualTo(500);

      await(vertx.timer(400));

      assertThat(reserved("acme")).isZero();
      assertThat(reserved(APP)).isZero();
      assertThat(await(shortLived.commitBlob(APP, "u1", blob("a", -1), "tester")).sizeKnown()).isFalse();
      assertThat(used(APP)).isZero();
    } finally {
      await(shortLived.close());
    }
  }

  @Test
  void aReserveRenewsTheReservationsExpiry() {
    RedisQuotaStore shortLived = RedisQuotaStore.create(vertx, redis.url(), 2, Duration.ofMillis(600));
    try {
      await(shortLived.reserveBytes(APP, "u1", 100, 100));
      await(vertx.timer(400));
      await(shortLived.reserveBytes(APP, "u1", 100, 100));
      await(vertx.timer(400));

      assertThat(reserved(APP)).as("800 ms after the first reserve, 400 after the renewal").isEqualTo(200);
    } finally {
      await(shortLived.close());
    }
  }

  // --- scripts ---------------------------------------------------------------------------------

  @Test
  void scriptsAreSentAgainAfterRedisForgetsThem() {
    await(store.reserveBytes(APP, "u1", 10, 10));
    redis.command(Request.cmd(Command.SCRIPT).arg("FLUSH"));
    assertThat(scriptCached(LuaScripts.RESERVE_BYTES)).isFalse();

    assertThat(await(store.reserveBytes(APP, "u1", 10, 10)).granted()).isTrue();

    assertThat(reserved(APP)).isEqualTo(20);
    assertThat(scriptCached(LuaScripts.RESERVE_BYTES)).as("cached again for the EVALSHAs that follow").isTrue();
  }

  @Test
  void invalidArgumentsFailTheFutureWithoutCallingRedis() {
    assertThatThrownBy(() -> await(store.reserveBytes(APP, "u1", 10, 5))).hasCauseInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> await(store.commitBlob(APP, "u1", blob("a", 1L << 53), "tester"))).hasCauseInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> await(store.reserveBytes("", "u1", 1, 1))).hasCauseInstanceOf(IllegalArgumentException.class);
  }

  // --- egress and traffic ----------------------------------------------------------------------

  @Test
  void egressIsRefusedOnceMeteredPastTheLimitUntilTheWindowEnds() {
    await(store.putLimits("acme/team", new ScopeLimits(-1, -1, 1000, 3600)));
    assertThat(await(store.checkEgress(APP))).isEqualTo(EgressCheck.ALLOWED);

    await(store.meter(APP, "alice", new Traffic(0, 600, 0, 1)));
    assertThat(await(store.checkEgress(APP)).allowed()).isTrue();

    await(store.meter(WEB, "bob", new Traffic(0, 500, 0, 1)));
    EgressCheck refused = await(store.checkEgress(APP));

    assertThat(refused.allowed()).isFalse();
    assertThat(refused.scope()).isEqualTo("acme/team");
    assertThat(refused.used()).isEqualTo(1100);
    assertThat(refused.limit()).isEqualTo(1000);
    assertThat(refused.windowSeconds()).isEqualTo(3600);
    assertThat(refused.retryAfterSeconds()).isBetween(1L, 3600L);
    assertThat(await(store.checkEgress("acme/elsewhere"))).as("only scopes under the limit's scope").isEqualTo(EgressCheck.ALLOWED);
  }

  @Test
  void anEgressWindowThatEndedCountsAsEmpty() {
    await(store.putLimits(APP, new ScopeLimits(-1, -1, 5, 1)));
    EgressCheck refused = EgressCheck.ALLOWED;
    // A one-second window may end between the meter and the check; then the second try is inside one.
    for (int attempt = 0; attempt < 2 && refused.allowed(); attempt++) {
      await(store.meter(APP, "alice", new Traffic(0, 10, 0, 1)));
      refused = await(store.checkEgress(APP));
    }
    assertThat(refused.allowed()).isFalse();
    assertThat(refused.retryAfterSeconds()).isEqualTo(1);

    await(vertx.timer(1100));

    assertThat(await(store.checkEgress(APP)).allowed()).isTrue();
  }

  @Test
  void aNewWindowLengthStartsAFreshCount() {
    await(store.putLimits(APP, new ScopeLimits(-1, -1, 100, 3600)));
    await(store.meter(APP, "alice", new Traffic(0, 150, 0, 1)));
    assertThat(await(store.checkEgress(APP)).allowed()).isFalse();

    await(store.putLimits(APP, new ScopeLimits(-1, -1, 100, 86_400)));

    assertThat(await(store.checkEgress(APP)).allowed()).as("bytes counted in an hourly window are not a daily count").isTrue();
    await(store.meter(APP, "alice", new Traffic(0, 60, 0, 1)));
    await(store.meter(APP, "alice", new Traffic(0, 60, 0, 1)));
    assertThat(await(store.checkEgress(APP)).used()).isEqualTo(120);
  }

  @Test
  void meterCountsEveryScopeOfThePathAndTheUserInTheHour() {
    await(store.meter(APP, "alice", new Traffic(0, 700, 0, 1)));
    await(store.meter(APP, "alice", new Traffic(300, 0, 1, 0)));
    await(store.meter(WEB, null, new Traffic(0, 5, 0, 1)));

    Map<String, Long> traffic = trafficOfThisHour("acme");

    assertThat(traffic).containsEntry("acme|egress", 705L).containsEntry("acme|ingress", 300L)
        .containsEntry("acme|pulls", 2L).containsEntry("acme|pushes", 1L)
        .containsEntry("acme/team|egress", 705L)
        .containsEntry(APP + "|egress", 700L).containsEntry(APP + "|pulls", 1L).containsEntry(APP + "|pushes", 1L)
        .containsEntry(WEB + "|egress", 5L)
        .containsEntry("user:alice|egress", 700L).containsEntry("user:alice|ingress", 300L)
        .containsEntry("user:alice|pulls", 1L).containsEntry("user:alice|pushes", 1L);
    assertThat(traffic).doesNotContainKey("user:|egress");
  }

  // --- limits, scopes, system ------------------------------------------------------------------

  @Test
  void limitsAreStoredPerScopeAndUnsetScopesAreUnlimited() {
    ScopeLimits limits = new ScopeLimits(10_000, 8_000, 50_000, 86_400);
    await(store.putLimits("acme/team", limits));

    assertThat(await(store.scope("acme/team"))).isEqualTo(new ScopeState("acme/team", 0, 0, limits));
    assertThat(await(store.scope("acme"))).isEqualTo(new ScopeState("acme", 0, 0, ScopeLimits.UNLIMITED));
    assertThat(await(store.scope("globex"))).isEqualTo(new ScopeState("globex", 0, 0, ScopeLimits.UNLIMITED));

    await(store.putLimits("acme/team", ScopeLimits.UNLIMITED));
    assertThat(await(store.scope("acme/team")).limits()).isEqualTo(ScopeLimits.UNLIMITED);
  }

  @Test
  void systemUsageSumsEveryNamespace() {
    commit("acme/app", blob("a", 100));
    commit("globex/app", blob("a", 200));
    commit("initech/team/app", blob("b", 300));
    await(store.reserveBytes("initech/app", "u1", 50, 50));
    // A second process writing another namespace is listed too.
    RedisQuotaStore other = RedisQuotaStore.create(vertx, redis.url(), 2, Duration.ofMinutes(10));
    try {
      await(other.commitBlob("hooli/app", "u2", blob("c", 1000), "tester"));
    } finally {
      await(other.close());
    }

    assertThat(await(store.systemUsage())).isEqualTo(new SystemUsage(1600, 50));
  }

  @Test
  void systemUsageOfAnEmptyStoreIsZero() {
    assertThat(await(store.systemUsage())).isEqualTo(new SystemUsage(0, 0));
  }

  @Test
  void systemSettingsAreStoredAndEmptyWhenAbsent() {
    assertThat(await(store.systemSettings())).isEmpty();

    SystemSettings settings = new SystemSettings(1L << 40, 0.95, true);
    await(store.putSystemSettings(settings));

    assertThat(await(store.systemSettings())).contains(settings);
  }

  @Test
  void sizesAreExactUpToTwoToThe53() {
    long large = (1L << 53) - 1;
    Commit commit = commit(APP, blob("huge", large));

    assertThat(commit.scopes()).extracting(ScopeState::used).containsOnly(large);
    assertThat(await(store.sizeOf("acme", "sha256:huge"))).isEqualTo(large);
  }

  // --- helpers ---------------------------------------------------------------------------------

  private Commit commit(String repository, Blob blob) {
    return await(store.commitBlob(repository, "commit-" + blob.digest(), blob, "tester"));
  }

  private long used(String scope) {
    return await(store.scope(scope)).used();
  }

  private long reserved(String scope) {
    return await(store.scope(scope)).reserved();
  }

  private static Blob blob(String name, long size) {
    return new Blob("sha256:" + name, size);
  }

  private static boolean scriptCached(LuaScripts.Script script) {
    return redis.command(Request.cmd(Command.SCRIPT).arg("EXISTS").arg(script.sha())).get(0).toLong() == 1;
  }

  /** Every field of the namespace's hour buckets (found by pattern, so an hour boundary mid-test cannot split them). */
  private static Map<String, Long> trafficOfThisHour(String namespace) {
    Map<String, Long> fields = new HashMap<>();
    for (Response key : redis.command(Request.cmd(Command.KEYS).arg("qp:{" + namespace + "}:traffic:*"))) {
      Response hash = redis.command(Request.cmd(Command.HGETALL).arg(key.toString()));
      for (String field : hash.getKeys()) {
        fields.merge(field, hash.get(field).toLong(), Long::sum);
      }
    }
    return fields;
  }

  static <T> T await(Future<T> future) {
    try {
      return future.await(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("store call failed", e);
    }
  }
}
