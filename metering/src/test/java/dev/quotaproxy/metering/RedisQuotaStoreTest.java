package dev.quotaproxy.metering;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.quotaproxy.config.Limits;
import dev.quotaproxy.config.SystemSettings;
import dev.quotaproxy.oci.Blob;
import dev.quotaproxy.metering.QuotaStore.Commit;
import dev.quotaproxy.metering.QuotaStore.Denial;
import dev.quotaproxy.metering.QuotaStore.EgressCheck;
import dev.quotaproxy.metering.QuotaStore.EgressGrant;
import dev.quotaproxy.metering.QuotaStore.Reservation;
import dev.quotaproxy.metering.QuotaStore.ScopeState;
import dev.quotaproxy.metering.QuotaStore.Session;
import dev.quotaproxy.metering.QuotaStore.SizeConflict;
import dev.quotaproxy.metering.QuotaStore.Traffic;
import dev.quotaproxy.metering.support.StoreOnRedis;
import dev.quotaproxy.metering.support.RedisStoreExtension;
import io.vertx.core.Future;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The Redis quota store against a real Redis: every operation, and the accounting rules behind them. */
class RedisQuotaStoreTest {
  private static final String APP = "acme/team/app";
  private static final String WEB = "acme/team/web";

  @RegisterExtension static final RedisStoreExtension fixture = RedisStoreExtension.withStore();

  private StoreOnRedis stores;
  private RedisQuotaStore store;

  @BeforeEach
  void freshStore() {
    stores = fixture.stores();
    store = stores.store();
  }

  // --- a slow Redis ------------------------------------------------------------------------------

  @Test
  void whileRedisIsSlowCallsBeyondTheBoundFailAtOnceAndNoneIsLeftWaiting() throws Exception {
    stores.client().limitCallsInFlight(10);
    await(store.scope("acme")); // connected before Redis stops answering
    fixture.redis().command(Request.cmd(Command.CLIENT).arg("PAUSE").arg(1500).arg("ALL"));

    List<Future<ScopeState>> calls = new ArrayList<>();
    for (int i = 0; i < 15; i++) {
      calls.add(store.scope("acme"));
    }

    List<Future<ScopeState>> refusedAtOnce = calls.stream().filter(Future::failed).toList();
    assertThat(refusedAtOnce).hasSize(5)
        .allSatisfy(call -> assertThat(call.cause()).isInstanceOf(StoreClient.StoreOverloadedException.class));
    assertThat(stores.client().callsInFlight()).isEqualTo(10);
    Future.join(new ArrayList<>(calls)).otherwiseEmpty().await(10, TimeUnit.SECONDS);
    assertThat(stores.client().callsInFlight()).as("nothing left waiting").isZero();
    assertThat(await(store.scope("acme")).used()).as("answering again").isZero();
  }

  // --- usage: blobs count once per scope -------------------------------------------------------

  @Test
  void everyCommittedChangeIsAnEventInTheNamespacesStreamWithItsUser() {
    await(store.reserveBytes(APP, "u1", null, 300, 300));
    await(store.commitBlob(APP, "u1", null, blob("a", 300), "alice"));
    await(store.commitBlob(WEB, "u2", null, blob("a", 300), "bob"));
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
    StoreOnRedis recovering = StoreOnRedis.open(fixture.vertx(), fixture.redis().url(), 2, Duration.ofMinutes(10), EmittedEvents.NONE, null,
        namespace -> {
          recovered.add(namespace);
          return stores.gate().markKnown(namespace, "epoch-1");
        });
    try {
      await(recovering.store().reserveBytes(APP, "u1", null, 10, 10));
      await(recovering.store().commitBlob(APP, "u1", null, blob("a", 10), "alice"));
      fixture.redis().command(Request.cmd(Command.DEL).arg("qp:{acme}:epoch:3"));
      await(recovering.store().dropBlob(APP, "sha256:a", "alice"));

      assertThat(recovered).containsExactly("acme", "acme");
      assertThat(fixture.redis().command(Request.cmd(Command.GET).arg("qp:{acme}:epoch:3")).toString()).isEqualTo("epoch-1");
      assertThat(used(APP)).isZero();
    } finally {
      await(recovering.close());
    }
  }

  @Test
  void aNamespaceThatCannotBeRecoveredRefusesTheCall() throws Exception {
    StoreOnRedis unrecoverable = StoreOnRedis.open(fixture.vertx(), fixture.redis().url(), 2, Duration.ofMinutes(10), EmittedEvents.NONE,
        null,
        namespace -> Future.failedFuture(new IllegalStateException("ledger unreachable")));
    try {
      Throwable failure = unrecoverable.store().reserveBytes(APP, "u1", null, 10, 10).transform(Future::succeededFuture)
          .await(10, TimeUnit.SECONDS).cause();

      assertThat(failure).hasMessage("ledger unreachable");
      assertThat(reserved(APP)).isZero();
    } finally {
      await(unrecoverable.close());
    }
  }

  @Test
  void aDecisionAloneWritesNoEvent() {
    await(store.reserveBytes(APP, "u1", null, 300, 300));
    await(store.release(APP, "u1", -1));
    await(store.commitBlob(APP, "u2", null, blob("a", 300), "alice"));
    await(store.commitBlob(APP, "u3", null, blob("a", 300), "alice"));

    assertThat(events("acme")).extracting(e -> e.get("type")).as("the second commit changed nothing").containsExactly("blob_added");
  }

  /**
   * An intent is journalled for the ledger (which restores those still open with the namespace): opened while the
   * namespace's state is known, closed when one was there to remove, whatever ended it.
   */
  @Test
  void intentsAreOpenedAndClosedInTheStreamWhileTheNamespaceIsKnown() {
    await(store.intendCommit(APP, "early", null, "sha256:early"));
    assertThat(events("acme")).as("the namespace's state not known yet: nothing appended").isEmpty();

    await(store.reserveBytes(APP, "r1", null, 300, 300));
    await(store.intendCommit(APP, "r1", "s1", "sha256:a"));
    await(store.commitBlob(APP, "r1", null, blob("a", 300), "alice"));
    await(store.release(APP, "r1", -1));
    await(store.intendManifest(APP, "m1", blob("m", 50), List.of(blob("a", 300))));
    await(store.release(APP, "m1", -1));
    await(store.intendDelete(APP, "d1", "sha256:gone", true));
    await(store.dropManifest(APP, "sha256:gone", "", "d1"));
    await(store.release(APP, "early", -1));

    assertThat(events("acme")).filteredOn(e -> e.get("type").startsWith("intent_"))
        .extracting(e -> e.get("type") + " " + e.get("repo") + " " + e.get("request") + " " + e.getOrDefault("what", "") + " "
            + e.getOrDefault("digest", "") + " " + e.getOrDefault("session", "") + " " + e.getOrDefault("size", "") + " "
            + e.getOrDefault("refs", ""))
        .as("a second release of r1 closes nothing; the early intent, never opened in the stream, is closed all the same")
        .containsExactly(
            "intent_opened acme/team/app r1 commit sha256:a s1  ",
            "intent_closed acme/team/app r1     ",
            "intent_opened acme/team/app m1 commit_manifest sha256:m  50 sha256:a:300",
            "intent_closed acme/team/app m1     ",
            "intent_opened acme/team/app d1 drop_manifest sha256:gone   ",
            "intent_closed acme/team/app d1     ",
            "intent_closed acme/team/app early     ");
    assertThat(events("acme")).allSatisfy(e -> assertThat(e.get("n")).isNotEmpty());
  }

  private static List<Map<String, String>> events(String namespace) {
    List<Map<String, String>> events = new java.util.ArrayList<>();
    for (Response entry : fixture.redis().command(Request.cmd(Command.XRANGE).arg("qp:{" + namespace + "}:events").arg("-").arg("+"))) {
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
    int port = fixture.vertx().createNetServer().connectHandler(socket -> socket.handler(ignored -> {}))
        .listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS).actualPort();
    StoreOnRedis silent = StoreOnRedis.open(fixture.vertx(), "redis://127.0.0.1:" + port, 2, Duration.ofHours(1));

    Throwable failure = silent.store().reserveBytes(APP, "u1", null, 1, 1).transform(Future::succeededFuture)
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
    Limits teamLimits = new Limits(5000, 4000, 900, 60);
    await(stores.putLimits("acme/team", teamLimits));
    await(store.reserveBytes(APP, "other-upload", null, 7, 7));

    Commit commit = commit(APP, blob("a", 100));

    assertThat(commit.size()).isEqualTo(100);
    // The repository holds a blob now: it counts in every scope (the other upload's slot became that count).
    ScopeCounts oneRepository = new ScopeCounts(1, 0, 0, 0);
    assertThat(commit.scopes()).containsExactly(
        new ScopeState("acme", 100, 7, Limits.UNLIMITED, oneRepository),
        new ScopeState("acme/team", 100, 7, teamLimits, oneRepository),
        new ScopeState(APP, 100, 7, Limits.UNLIMITED, oneRepository));
  }

  @Test
  void aCommitReleasesItsReservationWhole() {
    await(store.reserveBytes(APP, "u1", null, 500, 500));

    Commit commit = await(store.commitBlob(APP, "u1", null, blob("a", 300), "tester"));

    assertThat(commit.scopes()).extracting(ScopeState::reserved).containsExactly(0L, 0L, 0L);
    assertThat(commit.scopes()).extracting(ScopeState::used).containsExactly(300L, 300L, 300L);
  }

  @Test
  void aCommitOfASessionReleasesWhatItsRequestsSettledIntoIt() {
    await(store.openSession(APP, "s1"));
    await(store.reserveBytes(APP, "patch-1", "s1", 300, 300));
    await(store.settle(APP, "patch-1", "s1", 300, false));
    await(store.reserveBytes(APP, "put", "s1", 0, 200));
    assertThat(await(store.session(APP, "s1"))).isEqualTo(new Session(true, 300, false));

    Commit commit = await(store.commitBlob(APP, "put", "s1", blob("a", 500), "tester"));

    assertThat(commit.sizeKnown()).isTrue();
    assertThat(commit.size()).isEqualTo(500);
    assertThat(commit.scopes()).extracting(ScopeState::reserved).containsOnly(0L);
    assertThat(used(APP)).isEqualTo(500);
    assertThat(await(store.sizeOf("acme", "sha256:a"))).isEqualTo(500);
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

  // --- a repository named like the scope of another (acme/app and acme/app/sub) -----------------
  // The scope acme/app pays once for what any repository under it holds; the repository acme/app holds
  // only what it links itself. Mixing the two let a blob linked in acme/app go unrecorded, and then
  // freed while the registry still held it.

  @Test
  void aRepositoryNamedLikeTheScopeOfAnotherIsChargedForWhatItHoldsItself() {
    commit("acme/app/sub", blob("a", 100));
    commit("acme/app", blob("a", 100));

    await(store.dropBlob("acme/app/sub", "sha256:a", "tester"));

    assertThat(used("acme/app")).as("acme/app still links the blob").isEqualTo(100);
    assertThat(used("acme")).isEqualTo(100);
    assertThat(used("acme/app/sub")).isZero();
    assertThat(events("acme")).extracting(e -> e.get("type") + " " + e.get("repo") + " " + e.getOrDefault("scopes", "")).containsExactly(
        "blob_added acme/app/sub acme,acme/app,acme/app/sub",
        "blob_added acme/app ",
        "blob_removed acme/app/sub acme/app/sub");

    await(store.dropBlob("acme/app", "sha256:a", "tester"));
    assertThat(used("acme/app")).isZero();
    assertThat(used("acme")).isZero();
  }

  @Test
  void droppingABlobOnlyARepositoryUnderTheRepositoryHoldsChangesNothing() {
    commit("acme/app/sub", blob("a", 100));

    await(store.dropBlob("acme/app", "sha256:a", "tester"));
    await(store.dropManifest("acme/app", "sha256:a", "tester"));

    assertThat(used("acme")).isEqualTo(100);
    assertThat(used("acme/app")).isEqualTo(100);
    assertThat(used("acme/app/sub")).isEqualTo(100);
    assertThat(events("acme")).extracting(e -> e.get("type")).containsExactly("blob_added");
  }

  @Test
  void aManifestCommittedToBothRepositoriesStaysChargedWhileEitherHoldsIt() {
    await(store.commitManifest("acme/app/sub", "r1", blob("m", 50), List.of(blob("a", 300)), "tester"));
    await(store.commitManifest("acme/app", "r2", blob("m", 50), List.of(blob("a", 300)), "tester"));

    await(store.dropManifest("acme/app/sub", "sha256:m", "tester"));

    assertThat(used("acme/app")).isEqualTo(350);
    assertThat(used("acme/app/sub")).isZero();
    await(store.dropManifest("acme/app", "sha256:m", "tester"));
    assertThat(used("acme")).isZero();
    assertThat(used("acme/app")).isZero();
  }

  // --- reservations ----------------------------------------------------------------------------

  @Test
  void aRefusedReservationNamesTheOutermostScopeThatDoesNotFit() {
    await(stores.putLimits("acme", new Limits(1000, -1, -1, 3600)));
    await(stores.putLimits("acme/team", new Limits(500, -1, -1, 3600)));
    commit(WEB, blob("a", 300));
    await(store.reserveBytes(WEB, "held", null, 100, 100));

    Reservation teamRefuses = await(store.reserveBytes(APP, "u1", null, 200, 200));
    assertThat(teamRefuses.granted()).isFalse();
    assertThat(teamRefuses.grantedBytes()).isZero();
    assertThat(teamRefuses.denial()).isEqualTo(new Denial("acme/team", 300, 100, 500, 200));

    Reservation bothRefuse = await(store.reserveBytes(APP, "u1", null, 700, 700));
    assertThat(bothRefuse.denial()).isEqualTo(new Denial("acme", 300, 100, 1000, 700));

    assertThat(reserved("acme")).as("a refusal reserves nothing").isEqualTo(100);
  }

  @Test
  void aReservationGrantsWhatFitsBetweenMinAndMax() {
    await(stores.putLimits("acme/team", new Limits(1000, -1, -1, 3600)));

    assertThat(await(store.reserveBytes(APP, "u1", null, 100, 800))).isEqualTo(new Reservation(800, null));
    assertThat(await(store.reserveBytes(WEB, "u2", null, 100, 800))).isEqualTo(new Reservation(200, null));
    Reservation none = await(store.reserveBytes(APP, "u3", null, 1, 10));

    assertThat(none.denial()).isEqualTo(new Denial("acme/team", 0, 1000, 1000, 1));
    assertThat(reserved("acme")).isEqualTo(1000);
    assertThat(reserved(APP)).isEqualTo(800);
    assertThat(reserved(WEB)).isEqualTo(200);
  }

  @Test
  void anEmptyReserveIsRefusedByNoByteLimitAndLeavesNothingBehindInARepositoryThatExists() {
    await(stores.putLimits(APP, new Limits(1000, -1, -1, 3600)));
    commit(APP, blob("a", 1000));

    assertThat(await(store.reserveBytes(APP, "u1", null, 0, 0))).as("at the limit").isEqualTo(new Reservation(0, null));
    assertThat(fixture.redis().command(Request.cmd(Command.HEXISTS).arg("qp:{acme}:res").arg("u1")).toInteger())
        .as("an empty grant leaves no reservation behind").isZero();
    assertThat(await(store.reserveBytes(APP, "u2", null, 1, 1)).denial()).as("a byte still does not fit").isNotNull();
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
    await(stores.putLimits("acme/team", new Limits(120, -1, -1, 3600)));
    await(stores.putLimits(WEB, new Limits(50, -1, -1, 3600)));

    Reservation refused = await(store.reserveBlobs(APP, "put", List.of(blob("a", 100), blob("b", 50))));
    assertThat(refused.denial()).isEqualTo(new Denial("acme/team", 100, 0, 120, 50));

    Reservation nothingNeeded = await(store.reserveBlobs(WEB, "mount", List.of(blob("a", 100))));
    assertThat(nothingNeeded).as("web is over its limit, but a needs no bytes anywhere").isEqualTo(new Reservation(0, null));
  }

  @Test
  void releaseGivesBackPartOrAllOfAReservation() {
    await(store.reserveBytes(APP, "u1", null, 1000, 1000));

    await(store.release(APP, "u1", 300));
    assertThat(reserved("acme")).isEqualTo(700);
    assertThat(reserved(APP)).isEqualTo(700);

    await(store.release(APP, "u1", 5000));
    assertThat(reserved(APP)).as("never more than it holds").isZero();

    await(store.reserveBytes(APP, "u2", null, 400, 400));
    await(store.release(APP, "u2", -1));
    assertThat(reserved("acme")).isZero();
    assertThat(await(store.reserveBytes(APP, "u2", null, 1, 1))).as("released whole: retired").isEqualTo(Reservation.RETIRED);
  }

  @Test
  void aPartialReleaseOfASessionShrinksWhatItHolds() {
    await(store.openSession(APP, "s1"));
    await(store.reserveBytes(APP, "patch", "s1", 1000, 1000));
    await(store.settle(APP, "patch", "s1", 1000, false));

    await(store.release(APP, "s1", 300));

    assertThat(await(store.session(APP, "s1"))).isEqualTo(new Session(true, 700, false));
    assertThat(reserved("acme")).isEqualTo(700);
  }

  @Test
  void anExpiredReservationIsReleasedByTheNextCall() {
    StoreOnRedis shortLived = StoreOnRedis.open(fixture.vertx(), fixture.redis().url(), 2, Duration.ofMillis(500));
    try {
      await(shortLived.store().reserveBytes(APP, "u1", null, 500, 500));
      await(shortLived.store().reserveBytes(APP, "patch", "s1", 300, 300));
      await(shortLived.store().settle(APP, "patch", "s1", 300, false));
      assertThat(reserved("acme")).isEqualTo(800);

      await(fixture.vertx().timer(1000));

      assertThat(reserved("acme")).isZero();
      assertThat(reserved(APP)).isZero();
      assertThat(await(shortLived.store().session(APP, "s1"))).as("an expired session is unknown").isEqualTo(Session.UNKNOWN);
      assertThat(used(APP)).isZero();
    } finally {
      await(shortLived.close());
    }
  }

  @Test
  void aReserveRenewsTheReservationsExpiry() {
    StoreOnRedis shortLived = StoreOnRedis.open(fixture.vertx(), fixture.redis().url(), 2, Duration.ofMillis(600));
    try {
      await(shortLived.store().reserveBytes(APP, "u1", null, 100, 100));
      await(fixture.vertx().timer(400));
      await(shortLived.store().reserveBytes(APP, "u1", null, 100, 100));
      await(fixture.vertx().timer(400));

      assertThat(reserved(APP)).as("800 ms after the first reserve, 400 after the renewal").isEqualTo(200);
    } finally {
      await(shortLived.close());
    }
  }

  // --- retired ids -----------------------------------------------------------------------------

  @Test
  void aReserveThatArrivesAfterItsReleaseGrantsNothing() {
    // The release of a reserve that timed out in the proxy, overtaking the reserve itself.
    await(store.release(APP, "late", -1));

    assertThat(await(store.reserveBytes(APP, "late", null, 100, 100))).isEqualTo(Reservation.RETIRED);
    assertThat(await(store.reserveBlobs(APP, "late", List.of(blob("a", 100))))).isEqualTo(Reservation.RETIRED);
    assertThat(reserved("acme")).isZero();
    assertThat(reserved(APP)).isZero();
    assertThat(await(store.session(APP, "late"))).as("a tombstone is no reservation").isEqualTo(Session.UNKNOWN);
    assertThat(fixture.redis().command(Request.cmd(Command.ZSCORE).arg("qp:{acme}:res_expiry").arg("late"))).as("the tombstone expires")
        .isNotNull();
  }

  @Test
  void aSettledRequestCanNeverHoldBytesAgain() {
    await(store.reserveBytes(APP, "patch", "s1", 100, 100));
    await(store.settle(APP, "patch", "s1", 100, false));

    assertThat(await(store.reserveBytes(APP, "patch", "s1", 50, 50))).isEqualTo(Reservation.RETIRED);
    assertThat(await(store.reserveBlobs(APP, "patch", List.of(blob("a", 50))))).isEqualTo(Reservation.RETIRED);
    await(store.settle(APP, "patch", "s1", 100, false));

    assertThat(await(store.session(APP, "s1")).held()).as("a second settle of the same request moves nothing").isEqualTo(100);
    assertThat(reserved(APP)).isEqualTo(100);
  }

  @Test
  void aCommitRetiresTheRequestAndTheSession() {
    await(store.openSession(APP, "s1"));
    await(store.reserveBytes(APP, "put", "s1", 100, 100));

    await(store.commitBlob(APP, "put", "s1", blob("a", 100), "tester"));

    assertThat(await(store.reserveBytes(APP, "put", "s1", 10, 10))).isEqualTo(Reservation.RETIRED);
    assertThat(await(store.openSession(APP, "s1"))).as("a committed session is not opened again").isEqualTo(Reservation.RETIRED);
    assertThat(await(store.session(APP, "s1"))).isEqualTo(Session.UNKNOWN);
    assertThat(reserved(APP)).isZero();
  }

  @Test
  void aManifestCommitRetiresItsRequest() {
    await(store.reserveBlobs(APP, "put", List.of(blob("m", 50))));

    await(store.commitManifest(APP, "put", blob("m", 50), List.of(), "tester"));

    assertThat(await(store.reserveBlobs(APP, "put", List.of(blob("other", 10))))).isEqualTo(Reservation.RETIRED);
    assertThat(reserved(APP)).isZero();
  }

  @Test
  void aTombstoneIsPurgedWhenTheReservationTtlRunsOut() {
    StoreOnRedis shortLived = StoreOnRedis.open(fixture.vertx(), fixture.redis().url(), 2, Duration.ofMillis(300));
    try {
      await(shortLived.store().release(APP, "gone", -1));
      assertThat(fixture.redis().command(Request.cmd(Command.HEXISTS).arg("qp:{acme}:res").arg("gone")).toInteger()).isEqualTo(1);

      await(fixture.vertx().timer(600));
      await(shortLived.store().session(APP, "anything"));

      assertThat(fixture.redis().command(Request.cmd(Command.HEXISTS).arg("qp:{acme}:res").arg("gone")).toInteger()).isZero();
      assertThat(fixture.redis().command(Request.cmd(Command.ZSCORE).arg("qp:{acme}:res_expiry").arg("gone"))).isNull();
    } finally {
      await(shortLived.close());
    }
  }

  @Test
  void aDenialCountsWhatTheRequestAndItsSessionHoldTogether() {
    await(stores.putLimits(APP, new Limits(1000, -1, -1, 3600)));
    await(store.reserveBytes(APP, "patch-1", "s1", 300, 300));
    await(store.settle(APP, "patch-1", "s1", 300, false));
    await(store.reserveBytes(APP, "patch-2", "s1", 200, 200));

    Reservation refused = await(store.reserveBytes(APP, "patch-2", "s1", 600, 600));

    assertThat(refused.denial()).isEqualTo(new Denial(APP, 0, 500, 1000, 600, 500));
    assertThat(await(store.reserveBytes(APP, "patch-2", null, 600, 600)).denial().heldByRequest()).as("without the session").isEqualTo(200);
  }

  // --- sessions --------------------------------------------------------------------------------

  @Test
  void openSessionRecordsACleanSessionHoldingNothingAndRefusesAtTheLimit() {
    await(stores.putLimits("acme/team", new Limits(1000, -1, -1, 3600)));

    assertThat(await(store.openSession(APP, "s1"))).isEqualTo(new Reservation(0, null));
    assertThat(await(store.session(APP, "s1"))).isEqualTo(new Session(true, 0, false));
    assertThat(reserved("acme/team")).isZero();

    await(store.reserveBytes(WEB, "other", null, 1000, 1000));
    Reservation full = await(store.openSession(APP, "s2"));

    assertThat(full.denial()).isEqualTo(new Denial("acme/team", 0, 1000, 1000, 0, 0));
    assertThat(await(store.session(APP, "s2"))).as("a refused session is not recorded").isEqualTo(Session.UNKNOWN);
  }

  @Test
  void openingAKnownSessionAgainOnlyRenewsIt() {
    await(store.openSession(APP, "s1"));
    await(store.settle(APP, "patch", "s1", 0, true));

    assertThat(await(store.openSession(APP, "s1")).granted()).isTrue();

    assertThat(await(store.session(APP, "s1"))).isEqualTo(new Session(true, 0, true));
  }

  @Test
  void settleMovesWhatTheRegistryStoredIntoTheSessionAndReleasesTheRest() {
    await(store.openSession(APP, "s1"));
    await(store.reserveBytes(APP, "patch", "s1", 1000, 1000));

    await(store.settle(APP, "patch", "s1", 600, false));

    assertThat(await(store.session(APP, "s1"))).isEqualTo(new Session(true, 600, false));
    assertThat(await(store.scope("acme")).reserved()).isEqualTo(600);
    assertThat(reserved("acme/team")).isEqualTo(600);
    assertThat(reserved(APP)).isEqualTo(600);

    await(store.reserveBytes(APP, "patch-2", "s1", 400, 400));
    await(store.settle(APP, "patch-2", "s1", 400, true));

    assertThat(await(store.session(APP, "s1"))).as("a dirty settle leaves the session dirty").isEqualTo(new Session(true, 1000, true));
    assertThat(reserved(APP)).isEqualTo(1000);
  }

  @Test
  void settleIntoASessionTheStoreDoesNotKnowCreatesItDirty() {
    await(store.reserveBytes(APP, "patch", "s1", 300, 300));

    await(store.settle(APP, "patch", "s1", 300, false));

    assertThat(await(store.session(APP, "s1"))).isEqualTo(new Session(true, 300, true));
  }

  @Test
  void settleOfMoreThanTheRequestHeldKeepsWhatItHeldAndMarksTheSessionDirty() {
    await(store.openSession(APP, "s1"));
    await(store.reserveBytes(APP, "patch", "s1", 300, 300));

    await(store.settle(APP, "patch", "s1", 500, false));

    assertThat(await(store.session(APP, "s1"))).as("200 bytes no reservation covered").isEqualTo(new Session(true, 300, true));
    assertThat(reserved(APP)).isEqualTo(300);
  }

  @Test
  void settleOfARequestThatNeverReservedRetiresItAndStillMarksTheSession() {
    await(store.openSession(APP, "s1"));

    await(store.settle(APP, "cut-off", "s1", 0, true));

    assertThat(await(store.session(APP, "s1"))).isEqualTo(new Session(true, 0, true));
    assertThat(await(store.reserveBytes(APP, "cut-off", "s1", 10, 10))).isEqualTo(Reservation.RETIRED);
    assertThat(reserved(APP)).isZero();
  }

  @Test
  void settleIntoASessionCommittedOrCancelledMeanwhileReleasesEverything() {
    await(store.openSession(APP, "committed"));
    await(store.reserveBytes(APP, "late-patch", "committed", 300, 300));
    await(store.commitBlob(APP, "put", "committed", blob("a", 100), "tester"));
    await(store.openSession(APP, "cancelled"));
    await(store.reserveBytes(APP, "late-patch-2", "cancelled", 200, 200));
    await(store.release(APP, "cancelled", -1));

    await(store.settle(APP, "late-patch", "committed", 300, false));
    await(store.settle(APP, "late-patch-2", "cancelled", 200, false));

    assertThat(reserved("acme")).isZero();
    assertThat(reserved(APP)).isZero();
    assertThat(await(store.session(APP, "committed"))).isEqualTo(Session.UNKNOWN);
    assertThat(await(store.session(APP, "cancelled"))).isEqualTo(Session.UNKNOWN);
  }

  @Test
  void aSettleRenewsTheSessionsExpiry() {
    StoreOnRedis shortLived = StoreOnRedis.open(fixture.vertx(), fixture.redis().url(), 2, Duration.ofMillis(800));
    try {
      await(shortLived.store().openSession(APP, "s1"));
      await(fixture.vertx().timer(500));
      await(shortLived.store().reserveBytes(APP, "patch", "s1", 100, 100));
      await(shortLived.store().settle(APP, "patch", "s1", 100, false));
      await(fixture.vertx().timer(500));

      assertThat(await(shortLived.store().session(APP, "s1"))).as("1000 ms after the open, 500 after the settle")
          .isEqualTo(new Session(true, 100, false));
    } finally {
      await(shortLived.close());
    }
  }

  // --- known sizes -----------------------------------------------------------------------------

  @Test
  void aKnownSizeIsNeverOverwrittenAndIsWhatEveryScopeIsCharged() {
    commit(APP, blob("a", 100));

    Commit claimed = await(store.commitBlob(WEB, "u2", null, blob("a", 999_999), "tester"));

    assertThat(claimed.size()).isEqualTo(100);
    assertThat(used(WEB)).isEqualTo(100);
    assertThat(used("acme")).isEqualTo(100);
    assertThat(await(store.sizeOf("acme", "sha256:a"))).isEqualTo(100);
    assertThat(events("acme")).extracting(e -> e.get("size")).containsOnly("100");
  }

  @Test
  void aManifestCommitChargesKnownSizesForItselfAndItsReferences() {
    commit(WEB, blob("layer", 1000));
    commit(WEB, blob("m", 40));

    Commit commit = await(store.commitManifest(APP, "put", blob("m", 5), List.of(blob("layer", 1), blob("config", 10)), "tester"));

    assertThat(commit.size()).isEqualTo(40);
    assertThat(used(APP)).isEqualTo(40 + 1000 + 10);
    assertThat(await(store.sizesOf("acme", List.of("sha256:m", "sha256:layer", "sha256:config"))))
        .containsExactly(Map.entry("sha256:m", 40L), Map.entry("sha256:layer", 1000L), Map.entry("sha256:config", 10L));
  }

  @Test
  void reserveBlobsRefusesASizeThatContradictsTheKnownOneAndReservesNothing() {
    commit(WEB, blob("a", 100));

    Reservation conflict = await(store.reserveBlobs(APP, "put", List.of(blob("b", 50), blob("a", 1))));

    assertThat(conflict).isEqualTo(new Reservation(0, null, new SizeConflict("sha256:a", 100, 1), false));
    assertThat(conflict.granted()).isFalse();
    assertThat(reserved(APP)).isZero();
    assertThat(reserved("acme")).isZero();

    assertThat(await(store.reserveBlobs(APP, "put", List.of(blob("b", 50), blob("a", 100))))).isEqualTo(new Reservation(150, null));
  }

  @Test
  void sizesOfAnswersEveryDigestWithMinusOneForUnknownOnes() {
    commit(APP, blob("a", 100));
    commit(WEB, blob("b", 7));

    Map<String, Long> sizes = await(store.sizesOf("acme", List.of("sha256:b", "sha256:nope", "sha256:a", "sha256:b")));

    assertThat(sizes).containsExactly(Map.entry("sha256:b", 7L), Map.entry("sha256:nope", -1L), Map.entry("sha256:a", 100L));
    assertThat(await(store.sizesOf("acme", List.of()))).isEmpty();
    assertThat(await(store.sizesOf("globex", List.of("sha256:a")))).containsExactly(Map.entry("sha256:a", -1L));
  }

  // --- blobs a manifest still needs ------------------------------------------------------------

  @Test
  void aBlobAManifestStillReferencesStaysChargedWhenUnlinkedUntilTheManifestGoes() {
    await(store.commitManifest(APP, "put", blob("m", 50), List.of(blob("layer", 1000)), "tester"));

    QuotaStore.Change unlinked = await(store.dropBlob(APP, "sha256:layer", "tester"));

    assertThat(unlinked.scopes()).extracting(ScopeState::used).as("garbage collection keeps it").containsOnly(1050L);
    assertThat(events("acme")).extracting(e -> e.get("type")).doesNotContain("blob_removed");

    await(store.dropManifest(APP, "sha256:m", "tester"));
    assertThat(used(APP)).isZero();
    assertThat(used("acme")).isZero();
  }

  @Test
  void aManifestUnlinkedAsABlobStaysWhileTheRepositoryListsIt() {
    await(store.commitManifest(APP, "put", blob("m", 50), List.of(), "tester"));

    await(store.dropBlob(APP, "sha256:m", "tester"));
    assertThat(used(APP)).isEqualTo(50);

    await(store.dropManifest(APP, "sha256:m", "tester"));
    assertThat(used(APP)).isZero();
  }

  // --- failures after the call may have reached Redis ------------------------------------------

  @Test
  void reservesThatTimeOutAreReleasedAndRetiredOnceRedisAnswersAgain() throws Exception {
    await(stores.putLimits(APP, new Limits(10_000, -1, -1, 3600)));
    // Every script waits 3 s: longer than a call's 2 s timeout. The reserves are in Redis, unanswered.
    fixture.redis().command(Request.cmd(Command.CLIENT).arg("PAUSE").arg(3000).arg("WRITE"));
    try {
      Future<Reservation> bytes = store.reserveBytes(APP, "patch", "s1", 1000, 1000);
      Future<Reservation> blobs = store.reserveBlobs(APP, "put", List.of(blob("a", 500)));
      Future<Reservation> session = store.openSession(APP, "s2");
      for (Future<Reservation> reserve : List.of(bytes, blobs, session)) {
        assertThat(reserve.transform(Future::succeededFuture).await(10, TimeUnit.SECONDS).cause())
            .isInstanceOf(java.util.concurrent.TimeoutException.class);
      }

      // Redis answers again: each reserve ran, in whatever order against the release that followed it.
      await(store.inDoubtSettled());
    } finally {
      fixture.redis().command(Request.cmd(Command.CLIENT).arg("UNPAUSE"));
    }

    assertThat(reserved("acme")).isZero();
    assertThat(reserved(APP)).isZero();
    assertThat(await(store.session(APP, "s2"))).isEqualTo(Session.UNKNOWN);
    assertThat(await(store.reserveBytes(APP, "patch", "s1", 1, 1))).isEqualTo(Reservation.RETIRED);
    assertThat(await(store.reserveBlobs(APP, "put", List.of(blob("a", 500))))).isEqualTo(Reservation.RETIRED);
    assertThat(await(store.openSession(APP, "s2"))).isEqualTo(Reservation.RETIRED);
  }

  @Test
  void aReserveRefusedForItsArgumentsRetiresNothing() {
    assertThatThrownBy(() -> await(store.reserveBytes(APP, "u1", null, 10, 5))).hasCauseInstanceOf(IllegalArgumentException.class);

    assertThat(await(store.reserveBytes(APP, "u1", null, 10, 10)).granted()).isTrue();
  }

  // --- scripts ---------------------------------------------------------------------------------

  @Test
  void scriptsAreSentAgainAfterRedisForgetsThem() {
    await(store.reserveBytes(APP, "u1", null, 10, 10));
    fixture.redis().command(Request.cmd(Command.SCRIPT).arg("FLUSH"));
    assertThat(scriptCached(LuaScripts.RESERVE_BYTES)).isFalse();

    assertThat(await(store.reserveBytes(APP, "u1", null, 10, 10)).granted()).isTrue();

    assertThat(reserved(APP)).isEqualTo(20);
    assertThat(scriptCached(LuaScripts.RESERVE_BYTES)).as("cached again for the EVALSHAs that follow").isTrue();
  }

  @Test
  void invalidArgumentsFailTheFutureWithoutCallingRedis() {
    assertThatThrownBy(() -> await(store.reserveBytes(APP, "u1", null, 10, 5))).hasCauseInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> await(store.commitBlob(APP, "u1", null, blob("a", 1L << 53), "tester")))
        .hasCauseInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> await(store.reserveBytes("", "u1", null, 1, 1))).hasCauseInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> await(store.commitBlob(APP, "u1", "s1", blob("a", -1), "tester")))
        .as("a size is always known now: counted, or asked of the registry").hasCauseInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> await(store.settle(APP, "u1", null, 1, false))).hasCauseInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> await(store.settle(APP, "u1", "u1", 1, false))).hasCauseInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> await(store.reserveEgress(APP, -1))).hasCauseInstanceOf(IllegalArgumentException.class);
    assertThat(fixture.redis().command(Request.cmd(Command.HLEN).arg("qp:{acme}:res")).toLong()).as("nothing was released or retired")
        .isZero();
  }

  // --- egress and traffic ----------------------------------------------------------------------

  @Test
  void egressIsRefusedWhenAReservationWouldPassTheLimitUntilTheWindowEnds() {
    await(stores.putLimits("acme/team", new Limits(-1, -1, 1000, 3600)));
    EgressGrant first = await(store.reserveEgress(APP, 600));
    assertThat(first.allowed()).isTrue();
    assertThat(first.reservedBytes()).isEqualTo(600);
    assertThat(first.windows()).as("one window per scope, '' where unlimited").hasSize(3);
    assertThat(first.windows().get(0)).isEmpty();
    assertThat(first.windows().get(1)).startsWith("3600:");
    assertThat(first.windows().get(2)).isEmpty();

    EgressGrant refused = await(store.reserveEgress(WEB, 500));

    assertThat(refused.allowed()).isFalse();
    assertThat(refused.reservedBytes()).isZero();
    long retryAfter = refused.refusal().retryAfterSeconds();
    assertThat(refused.refusal()).isEqualTo(new EgressCheck(false, "acme/team", 600, 1000, 3600, retryAfter, 500));
    assertThat(retryAfter).isBetween(1L, 3600L);
    assertThat(egressUsed("acme/team")).as("a refusal reserves nothing").isEqualTo(600);

    assertThat(await(store.reserveEgress(WEB, 400)).allowed()).as("exactly up to the limit").isTrue();
    assertThat(await(store.reserveEgress(APP, 0)).allowed()).as("at the limit, even a body of unknown length").isFalse();
    assertThat(await(store.reserveEgress("acme/elsewhere", 5000)).windows()).as("only scopes under the limit's scope").containsOnly("");
  }

  @Test
  void aBodyLargerThanAWholeWindowsLimitIsAllowedOncePerWindow() {
    await(stores.putLimits(APP, new Limits(-1, -1, 100, 3600)));

    assertThat(await(store.reserveEgress(APP, 5000)).allowed()).as("nothing sent in the window yet").isTrue();
    assertThat(await(store.reserveEgress(APP, 1)).allowed()).isFalse();
    assertThat(await(store.reserveEgress(APP, 5000)).allowed()).isFalse();
    assertThat(egressUsed(APP)).isEqualTo(5000);
  }

  @Test
  void aLimitOfZeroAllowsNoEgressAtAll() {
    await(stores.putLimits(APP, new Limits(-1, -1, 0, 3600)));

    assertThat(await(store.reserveEgress(APP, 10)).allowed()).isFalse();
    assertThat(await(store.reserveEgress(APP, 0)).allowed()).isFalse();
  }

  @Test
  void settleEgressGivesBackWhatWasNotSentAndAddsWhatAnUnknownLengthSent() {
    await(stores.putLimits("acme", new Limits(-1, -1, 1000, 3600)));
    await(stores.putLimits(APP, new Limits(-1, -1, 800, 3600)));
    EgressGrant cutShort = await(store.reserveEgress(APP, 700));

    await(store.settleEgress(APP, cutShort, 200));
    assertThat(egressUsed("acme")).isEqualTo(200);
    assertThat(egressUsed(APP)).isEqualTo(200);

    EgressGrant unknownLength = await(store.reserveEgress(APP, 0));
    assertThat(unknownLength.allowed()).isTrue();
    await(store.settleEgress(APP, unknownLength, 650));
    assertThat(egressUsed("acme")).isEqualTo(850);
    assertThat(egressUsed(APP)).as("added after the fact: it may pass the limit").isEqualTo(850);
    assertThat(await(store.reserveEgress(APP, 0)).refusal().scope()).isEqualTo(APP);

    await(store.settleEgress(APP, cutShort, 0));
    assertThat(egressUsed(APP)).isEqualTo(150);
    await(store.settleEgress(APP, cutShort, 0));
    await(store.settleEgress(APP, cutShort, 0));
    assertThat(egressUsed(APP)).as("never below 0").isZero();
    assertThat(egressUsed("acme")).isZero();

    await(store.settleEgress(APP, EgressGrant.refused(EgressCheck.ALLOWED), 100));
    assertThat(egressUsed("acme")).as("a refused grant reserved nothing to settle").isZero();
  }

  @Test
  void settleEgressLeavesAWindowThatEndedAlone() {
    await(stores.putLimits(APP, new Limits(-1, -1, 1000, 1)));
    EgressGrant old = await(store.reserveEgress(APP, 600));
    // One-second windows aligned to the second: a second later is a later window.
    await(fixture.vertx().timer(1000));
    EgressGrant current = await(store.reserveEgress(APP, 300));
    assertThat(current.windows().get(2)).isNotEqualTo(old.windows().get(2));

    await(store.settleEgress(APP, old, 0));

    assertThat(egressUsed(APP)).as("the 600 left the old window, not this one").isEqualTo(300);
  }

  @Test
  void anEgressWindowThatEndedCountsAsEmpty() {
    await(stores.putLimits(APP, new Limits(-1, -1, 5, 1)));
    EgressGrant refused = null;
    // A one-second window may end between the two reserves; then the next pair is inside one.
    for (int attempt = 0; attempt < 3 && (refused == null || refused.allowed()); attempt++) {
      await(store.reserveEgress(APP, 10));
      refused = await(store.reserveEgress(APP, 0));
    }
    assertThat(refused.allowed()).isFalse();
    assertThat(refused.refusal().retryAfterSeconds()).isEqualTo(1);

    await(fixture.vertx().timer(1100));

    assertThat(await(store.reserveEgress(APP, 0)).allowed()).isTrue();
  }

  @Test
  void aNewWindowLengthStartsAFreshCount() {
    await(stores.putLimits(APP, new Limits(-1, -1, 100, 3600)));
    await(store.reserveEgress(APP, 150));
    assertThat(await(store.reserveEgress(APP, 0)).allowed()).isFalse();

    await(stores.putLimits(APP, new Limits(-1, -1, 100, 86_400)));

    assertThat(await(store.reserveEgress(APP, 0)).allowed()).as("bytes counted in an hourly window are not a daily count").isTrue();
    await(store.reserveEgress(APP, 60));
    assertThat(await(store.reserveEgress(APP, 60)).refusal().used()).isEqualTo(60);
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

  @Test
  void meterLeavesEgressWindowsToTheReservationsSoNoByteCountsTwice() {
    await(stores.putLimits(APP, new Limits(-1, -1, 1000, 3600)));
    EgressGrant pull = await(store.reserveEgress(APP, 700));
    await(store.settleEgress(APP, pull, 700));

    await(store.meter(APP, "alice", new Traffic(0, 700, 0, 1)));

    assertThat(egressUsed(APP)).isEqualTo(700);
    assertThat(trafficOfThisHour("acme")).containsEntry(APP + "|egress", 700L);
  }

  // --- limits, scopes, system ------------------------------------------------------------------

  @Test
  void limitsAreStoredPerScopeAndUnsetScopesAreUnlimited() {
    Limits limits = new Limits(10_000, 8_000, 50_000, 86_400);
    await(stores.putLimits("acme/team", limits));

    assertThat(await(store.scope("acme/team"))).isEqualTo(new ScopeState("acme/team", 0, 0, limits));
    assertThat(await(store.scope("acme"))).isEqualTo(new ScopeState("acme", 0, 0, Limits.UNLIMITED));
    assertThat(await(store.scope("globex"))).isEqualTo(new ScopeState("globex", 0, 0, Limits.UNLIMITED));

    await(stores.putLimits("acme/team", Limits.UNLIMITED));
    assertThat(await(store.scope("acme/team")).limits()).isEqualTo(Limits.UNLIMITED);
  }

  @Test
  void systemUsageSumsEveryNamespace() {
    commit("acme/app", blob("a", 100));
    commit("globex/app", blob("a", 200));
    commit("initech/team/app", blob("b", 300));
    await(store.reserveBytes("initech/app", "u1", null, 50, 50));
    // A second process writing another namespace is listed too.
    StoreOnRedis other = StoreOnRedis.open(fixture.vertx(), fixture.redis().url(), 2, Duration.ofMinutes(10));
    try {
      await(other.store().commitBlob("hooli/app", "u2", null, blob("c", 1000), "tester"));
    } finally {
      await(other.close());
    }

    assertThat(await(stores.usage().systemUsage())).isEqualTo(new SystemUsage(1600, 50));
  }

  @Test
  void systemUsageOfAnEmptyStoreIsZero() {
    assertThat(await(stores.usage().systemUsage())).isEqualTo(new SystemUsage(0, 0));
  }

  @Test
  void systemSettingsAreStoredAndEmptyWhenAbsent() {
    assertThat(await(stores.limits().systemSettings())).isEmpty();

    SystemSettings settings = new SystemSettings(1L << 40, 0.95, true, false, 30);
    await(stores.putSystemSettings(settings));

    assertThat(await(stores.limits().systemSettings())).contains(settings);
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
    return await(store.commitBlob(repository, "commit-" + blob.digest(), null, blob, "tester"));
  }

  private long egressUsed(String scope) {
    return await(stores.usage().scopeUsage(scope)).usage().egressUsed();
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
    return fixture.redis().command(Request.cmd(Command.SCRIPT).arg("EXISTS").arg(script.sha())).get(0).toLong() == 1;
  }

  /** Every field of the namespace's hour buckets (found by pattern, so an hour boundary mid-test cannot split them). */
  private static Map<String, Long> trafficOfThisHour(String namespace) {
    Map<String, Long> fields = new HashMap<>();
    for (Response key : fixture.redis().command(Request.cmd(Command.KEYS).arg("qp:{" + namespace + "}:traffic:*"))) {
      Response hash = fixture.redis().command(Request.cmd(Command.HGETALL).arg(key.toString()));
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
