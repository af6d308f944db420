package dev.quotaproxy.metering;

import static dev.quotaproxy.metering.RedisQuotaStoreTest.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.config.Limits;
import dev.quotaproxy.metering.QuotaStore.Commit;
import dev.quotaproxy.metering.QuotaStore.Denial;
import dev.quotaproxy.metering.QuotaStore.Reservation;
import dev.quotaproxy.metering.support.StoreOnRedis;
import dev.quotaproxy.metering.support.RedisStoreExtension;
import dev.quotaproxy.oci.Blob;
import io.vertx.core.Future;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Count limits in the store against a real Redis: repositories and manifests counted from commits and
 * drops, slots taken at the decision with the bytes and given back however a push ends.
 */
class CountLimitsStoreTest {
  private static final Limits NO_BYTES_LIMIT = new Limits(-1, -1, -1, 3600);

  @RegisterExtension static final RedisStoreExtension fixture = RedisStoreExtension.withStore();

  private StoreOnRedis stores;
  private RedisQuotaStore store;

  @BeforeEach
  void freshStore() {
    stores = fixture.stores();
    store = stores.store();
  }

  @Test
  void repositoriesCountOnceTheyHoldSomethingAndStopWhenEmptied() {
    commitBlob("acme/app", "a");
    commitBlob("acme/app", "b");
    commitBlob("acme/app/sub", "a");
    Commit commit = commitBlob("acme/lib", "c");

    assertThat(commit.scopes()).extracting(s -> s.scope() + " " + s.counts().repositories())
        .containsExactly("acme 3", "acme/lib 1");
    assertThat(counts("acme/app")).isEqualTo(new ScopeCounts(2, 0, 0, 0));

    await(store.dropBlob("acme/app", "sha256:a", "t"));
    assertThat(counts("acme").repositories()).as("acme/app still holds b").isEqualTo(3);
    await(store.dropBlob("acme/app", "sha256:b", "t"));
    assertThat(counts("acme").repositories()).isEqualTo(2);
    assertThat(counts("acme/app").repositories()).as("acme/app/sub holds a").isEqualTo(1);
  }

  @Test
  void manifestsCountPerRepositoryAndAnotherTagOfOneCountsNothing() {
    commitManifest("acme/app", "m1", "l");
    commitManifest("acme/app", "m1", "l");
    commitManifest("acme/app", "m2", "l");
    commitManifest("acme/lib", "m1", "l");

    assertThat(counts("acme")).isEqualTo(new ScopeCounts(2, 0, 3, 0));
    assertThat(counts("acme/app").manifests()).isEqualTo(2);

    await(store.dropManifest("acme/app", "sha256:m2", "t"));
    assertThat(counts("acme").manifests()).isEqualTo(2);
    await(store.dropManifest("acme/app", "sha256:m1", "t"));
    assertThat(counts("acme")).as("acme/app is empty now").isEqualTo(new ScopeCounts(1, 0, 1, 0));
  }

  @Test
  void aNewRepositoryBeyondTheLimitIsRefusedAtItsFirstReservationAndOneThatHoldsSomethingIsNot() {
    await(stores.putLimits("acme", NO_BYTES_LIMIT.withCounts(1, -1, -1, -1)));
    commitBlob("acme/app", "a");

    Reservation refused = await(store.reserveBytes("acme/new", "r1", null, 10, 10));
    assertThat(refused.denial()).isEqualTo(new Denial("acme", 1, 0, 1, 1, 0, Denial.REPOSITORIES, "acme/new"));
    assertThat(await(store.openSession("acme/new", "s1")).denial().resource()).isEqualTo(Denial.REPOSITORIES);
    assertThat(await(store.reserveBlobs("acme/new", "r2", List.of(blob("a", 10)))).denial().subject()).isEqualTo("acme/new");
    assertThat(await(store.reserveBytes("acme/app", "r3", null, 10, 10)).granted()).isTrue();
    assertThat(counts("acme")).as("nothing held by the refusals").isEqualTo(new ScopeCounts(1, 0, 0, 0));
  }

  /** An empty blob reserves no bytes but links its repository: its empty reserve holds the slot, or is refused. */
  @Test
  void anEmptyReserveIntoANewRepositoryHoldsItsSlotAndIsRefusedWithoutRoom() {
    await(stores.putLimits("acme", new Limits(10, -1, -1, 3600).withCounts(2, -1, -1, -1)));
    commitBlob("acme/full", "f");

    assertThat(await(store.reserveBytes("acme/empty", "r1", null, 0, 0)).granted()).as("no byte limit refuses it").isTrue();
    assertThat(counts("acme")).as("its slot is held").isEqualTo(new ScopeCounts(1, 1, 0, 0));
    Reservation refused = await(store.reserveBytes("acme/other", "r2", null, 0, 0));
    assertThat(refused.denial()).isEqualTo(new Denial("acme", 1, 1, 2, 1, 0, Denial.REPOSITORIES, "acme/other"));

    await(store.commitBlob("acme/empty", "r1", null, blob("e", 0), "tester"));
    assertThat(counts("acme")).isEqualTo(new ScopeCounts(2, 0, 0, 0));
  }

  @Test
  void aSlotIsHeldFromTheDecisionToTheCommitAndSharedByUploadsIntoTheSameNewRepository() {
    await(stores.putLimits("acme", NO_BYTES_LIMIT.withCounts(2, -1, -1, -1)));

    assertThat(await(store.openSession("acme/x", "s1")).granted()).isTrue();
    assertThat(counts("acme")).as("an open session holds no slot").isEqualTo(ScopeCounts.NONE);
    assertThat(await(store.reserveBytes("acme/x", "r1", "s1", 5, 5)).granted()).isTrue();
    assertThat(await(store.reserveBytes("acme/x", "r2", null, 5, 5)).granted()).as("joins the slot of acme/x").isTrue();
    assertThat(counts("acme")).isEqualTo(new ScopeCounts(0, 1, 0, 0));
    assertThat(await(store.reserveBytes("acme/y", "r3", null, 5, 5)).granted()).isTrue();
    assertThat(counts("acme").repositoriesReserved()).isEqualTo(2);

    Reservation full = await(store.reserveBytes("acme/z", "r4", null, 5, 5));
    assertThat(full.denial()).isEqualTo(new Denial("acme", 0, 2, 2, 1, 0, Denial.REPOSITORIES, "acme/z"));
    assertThat(await(store.openSession("acme/z", "s4")).denial()).as("no room left: refused at the upload start")
        .isEqualTo(new Denial("acme", 0, 2, 2, 1, 0, Denial.REPOSITORIES, "acme/z"));

    // The chunk's slot passes to its session; acme/x's first commit turns it into a count, and the other
    // holders of it hold nothing any more.
    await(store.settle("acme/x", "r1", "s1", 5, false));
    assertThat(counts("acme")).isEqualTo(new ScopeCounts(0, 2, 0, 0));
    await(store.release("acme/x", "r2", -1));
    assertThat(counts("acme")).as("the session still holds acme/x's slot").isEqualTo(new ScopeCounts(0, 2, 0, 0));
    await(store.commitBlob("acme/x", null, "s1", blob("a", 5), "t"));
    assertThat(counts("acme")).isEqualTo(new ScopeCounts(1, 1, 0, 0));

    // acme/y's push fails: its slot is given back, and acme/z fits.
    await(store.release("acme/y", "r3", -1));
    assertThat(counts("acme")).isEqualTo(new ScopeCounts(1, 0, 0, 0));
    assertThat(await(store.reserveBytes("acme/z", "r5", null, 5, 5)).granted()).isTrue();
    assertThat(fixture.redis().command(Request.cmd(Command.HGET).arg("qp:{acme}:slots").arg("acme/x"))).as("no holders left").isNull();
  }

  @Test
  void sessionsOpenedAndAbandonedHoldNoSlotButOneThatSentBytesHoldsItUntilItExpires() throws Exception {
    await(stores.close());
    stores = StoreOnRedis.open(fixture.vertx(), fixture.redis().url(), 8, Duration.ofMillis(300));
    store = stores.store();
    await(stores.putLimits("acme", NO_BYTES_LIMIT.withCounts(1, -1, -1, -1)));

    assertThat(await(store.openSession("acme/a", "s1")).granted()).isTrue();
    assertThat(await(store.openSession("acme/b", "s2")).granted()).as("s1 holds nothing").isTrue();
    assertThat(await(store.reserveBytes("acme/a", "r1", "s1", 5, 5)).granted()).isTrue();
    await(store.settle("acme/a", "r1", "s1", 5, false));
    assertThat(await(store.reserveBytes("acme/b", "r2", "s2", 5, 5)).denial().resource()).isEqualTo(Denial.REPOSITORIES);
    Thread.sleep(400);

    assertThat(await(store.reserveBytes("acme/b", "r3", "s2", 5, 5)).granted()).as("s1 expired, and its slot with it").isTrue();
    assertThat(counts("acme")).isEqualTo(new ScopeCounts(0, 1, 0, 0));
  }

  @Test
  void aSlotWhoseHolderIsGoneRefusesNobody() {
    await(stores.putLimits("acme", NO_BYTES_LIMIT.withCounts(2, -1, -1, -1)));
    assertThat(await(store.reserveBytes("acme/live", "r1", null, 5, 5)).granted()).isTrue();
    // As a Redis that lost the reservation of a push in flight but kept its slot leaves it.
    fixture.redis().command(Request.cmd(Command.HSET).arg("qp:{acme}:slots").arg("acme/ghost").arg("{\"vanished\":1}"));
    fixture.redis().command(Request.cmd(Command.HINCRBY).arg("qp:{acme}:slots").arg("acme|repositories").arg(1));
    assertThat(counts("acme").repositoriesReserved()).isEqualTo(2);

    assertThat(await(store.reserveBytes("acme/new", "r2", null, 5, 5)).granted()).as("the ghost is found out").isTrue();
    assertThat(counts("acme")).isEqualTo(new ScopeCounts(0, 2, 0, 0));
    assertThat(fixture.redis().command(Request.cmd(Command.HGET).arg("qp:{acme}:slots").arg("acme/ghost"))).isNull();
    assertThat(await(store.reserveBytes("acme/third", "r3", null, 5, 5)).denial()).as("the live slots still count")
        .isEqualTo(new Denial("acme", 0, 2, 2, 1, 0, Denial.REPOSITORIES, "acme/third"));
  }

  /**
   * Redis loses the reservations of pushes in flight (flushed and restored, or an older copy): the proxy holds
   * them again, with the slots of what is still new, so the pushes decided meanwhile see them in flight.
   */
  @Test
  void aPushInFlightWhenRedisLosesItsReservationsHoldsItsSlotAgain() throws Exception {
    LiveReservations live = new LiveReservations();
    StoreOnRedis keeping = StoreOnRedis.open(fixture.vertx(), fixture.redis().url(), 4, Duration.ofMinutes(10), EmittedEvents.NONE,
        live, null);
    try {
      RedisQuotaStore store = keeping.store();
      await(keeping.putLimits("acme", NO_BYTES_LIMIT.withCounts(3, -1, -1, -1)));
      commitBlob("acme/app", "a");
      assertThat(await(store.reserveBytes("acme/new", "request:1", null, 5, 5)).granted()).isTrue();
      assertThat(await(store.reserveManifest("acme/app", "request:2", blob("m", 10), List.of(blob("a", 10)))).granted()).isTrue();
      // Two pushes into acme/filled: the first to commit turns the shared slot into a count, so it is no longer new.
      assertThat(await(store.reserveBytes("acme/filled", "request:3", null, 5, 5)).granted()).isTrue();
      assertThat(await(store.reserveBytes("acme/filled", "request:4", null, 5, 5)).granted()).isTrue();
      await(store.commitBlob("acme/filled", "request:4", null, blob("f", 5), "t"));
      store.requestEnded("request:4");
      assertThat(counts("acme")).isEqualTo(new ScopeCounts(2, 1, 0, 1));

      for (String key : List.of("res", "res_expiry", "slots", "reserved")) {
        fixture.redis().command(Request.cmd(Command.DEL).arg("qp:{acme}:" + key));
      }
      assertThat(counts("acme")).as("the pushes in flight are forgotten").isEqualTo(new ScopeCounts(2, 0, 0, 0));

      assertThat(await(keeping.leases().keep())).as("re-created").isEqualTo(3);
      assertThat(counts("acme")).as("acme/new in flight again; acme/filled holds something now").isEqualTo(new ScopeCounts(2, 1, 0, 1));
      assertThat(fixture.redis().command(Request.cmd(Command.HKEYS).arg("qp:{acme}:slots")).stream().map(Object::toString).sorted())
          .containsExactly("acme/app@sha256:m", "acme/app|manifests", "acme/new", "acme/new|repositories", "acme|manifests",
              "acme|repositories");
      assertThat(await(store.reserveBytes("acme/third", "request:5", null, 5, 5)).denial()).as("acme/new's slot counts")
          .isEqualTo(new Denial("acme", 2, 1, 3, 1, 0, Denial.REPOSITORIES, "acme/third"));

      await(store.commitBlob("acme/new", "request:1", null, blob("n", 5), "t"));
      store.requestEnded("request:1");
      assertThat(counts("acme")).as("its commit turns the slot into a count").isEqualTo(new ScopeCounts(3, 0, 0, 1));
    } finally {
      keeping.close().await(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void thirtyTwoConcurrentNewRepositoriesEndExactlyAtTheLimit() throws Exception {
    await(stores.putLimits("acme", NO_BYTES_LIMIT.withCounts(10, -1, -1, -1)));
    List<Future<Reservation>> reserved = new ArrayList<>();
    for (int i = 0; i < 32; i++) {
      reserved.add(store.reserveBytes("acme/r" + i, "r" + i, null, 1, 1));
    }
    Future.join(new ArrayList<>(reserved)).await(10, TimeUnit.SECONDS);
    List<Integer> granted = new ArrayList<>();
    for (int i = 0; i < 32; i++) {
      if (reserved.get(i).result().granted()) {
        granted.add(i);
      }
    }
    assertThat(granted).hasSize(10);
    for (int i : granted) {
      await(store.commitBlob("acme/r" + i, "r" + i, null, blob("b" + i, 1), "t"));
    }
    assertThat(counts("acme")).isEqualTo(new ScopeCounts(10, 0, 0, 0));
  }

  @Test
  void aManifestNewToItsRepositoryTakesASlotAgainstTheManifestLimit() {
    await(stores.putLimits("acme/app", NO_BYTES_LIMIT.withCounts(-1, -1, 2, -1)));
    commitManifest("acme/app", "m1", "l");

    assertThat(await(store.reserveManifest("acme/app", "p1", blob("m1", 10), List.of(blob("l", 100)))).granted())
        .as("another tag of a manifest it holds").isTrue();
    assertThat(await(store.reserveManifest("acme/app", "p2", blob("m2", 10), List.of(blob("l", 100)))).granted()).isTrue();
    assertThat(await(store.reserveManifest("acme/app", "p3", blob("m2", 10), List.of())).granted())
        .as("the same new manifest pushed twice at once shares its slot").isTrue();
    Reservation refused = await(store.reserveManifest("acme/app", "p4", blob("m3", 10), List.of()));
    assertThat(refused.denial()).isEqualTo(new Denial("acme/app", 1, 1, 2, 1, 0, Denial.MANIFESTS, "acme/app@sha256:m3"));

    await(store.commitManifest("acme/app", "p2", blob("m2", 10), List.of(blob("l", 100)), "t"));
    await(store.release("acme/app", "p3", -1));
    assertThat(counts("acme/app")).isEqualTo(new ScopeCounts(1, 0, 2, 0));
  }

  @Test
  void aCountRefusalIsRecordedForReportsAndEventsWithItsCount() {
    assertThat(QuotaStore.Rejection.of(new Denial("acme", 9, 1, 10, 1, 0, Denial.REPOSITORIES, "acme/new")))
        .isEqualTo(new QuotaStore.Rejection("acme", "repositories", 1, 10, 10, "repositories_limit"));
    assertThat(QuotaStore.Rejection.of(new Denial("acme", 500, 0, 600, 200))).extracting(r -> r.resource() + " " + r.reason())
        .isEqualTo("storage_bytes storage_limit");
  }

  @Test
  void countsAndLimitsAreInTheUsageReadings() {
    await(stores.putLimits("acme", NO_BYTES_LIMIT.withCounts(10, 8, 100, -1)));
    commitManifest("acme/app", "m1", "l");
    await(store.reserveBytes("acme/new", "r1", null, 1, 1));

    ScopeUsage usage = await(stores.usage().scopeUsage("acme")).usage();
    assertThat(usage.counts()).isEqualTo(new ScopeCounts(1, 1, 1, 0));
    assertThat(usage.limits()).isEqualTo(NO_BYTES_LIMIT.withCounts(10, 8, 100, -1));
    assertThat(await(stores.usage().scopes())).filteredOn(s -> s.scope().equals("acme"))
        .extracting(ScopeUsage::counts).containsExactly(new ScopeCounts(1, 1, 1, 0));
  }

  // --- helpers ---------------------------------------------------------------------------------

  @Test
  void theEventsSayWhichLinkFilledARepositoryAndWhichEmptiedItAndManifestsAreAddedAndRemovedOnce() {
    commitBlob("acme/app", "a");
    commitBlob("acme/app", "b");
    commitManifest("acme/app", "m1", "a");
    commitManifest("acme/app", "m1", "a");
    await(store.dropManifest("acme/app", "sha256:m1", "t"));
    await(store.dropManifest("acme/app", "sha256:m1", "t"));
    await(store.dropBlob("acme/app", "sha256:b", "t"));

    assertThat(events("acme")).containsExactly(
        "blob_added sha256:a filled=1",
        "blob_added sha256:b",
        "blob_added sha256:m1",
        "manifest_added sha256:m1",
        "manifest_removed sha256:m1",
        "blob_removed sha256:m1",
        "blob_removed sha256:a",
        "blob_removed sha256:b emptied=1");
  }

  /** Type, digest, and filled or emptied when set, of each count-related event in the namespace's stream. */
  private static List<String> events(String namespace) {
    List<String> events = new ArrayList<>();
    for (var entry : fixture.redis().command(Request.cmd(Command.XRANGE).arg("qp:{" + namespace + "}:events").arg("-").arg("+"))) {
      var fields = entry.get(1);
      java.util.Map<String, String> event = new java.util.HashMap<>();
      for (int i = 0; i < fields.size(); i += 2) {
        event.put(fields.get(i).toString(), fields.get(i + 1).toString());
      }
      String type = event.get("type");
      if (type.startsWith("blob_") || type.startsWith("manifest_")) {
        events.add(type + " " + event.get("digest") + (event.containsKey("filled") ? " filled=" + event.get("filled") : "")
            + (event.containsKey("emptied") ? " emptied=" + event.get("emptied") : ""));
      }
    }
    return events;
  }

  private Commit commitBlob(String repository, String name) {
    return await(store.commitBlob(repository, null, null, blob(name, 10), "t"));
  }

  private Commit commitManifest(String repository, String manifest, String layer) {
    return await(store.commitManifest(repository, null, blob(manifest, 10), List.of(blob(layer, 100)), "t"));
  }

  private ScopeCounts counts(String scope) {
    return await(store.scope(scope)).counts();
  }

  private static Blob blob(String name, long size) {
    return new Blob("sha256:" + name, size);
  }
}
