package dev.quotaproxy.metering;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** What this process holds of its requests' intents, and when one becomes its own to settle. */
class LiveReservationsTest {
  private final AtomicLong now = new AtomicLong(1_000_000);
  private final LiveReservations live = new LiveReservations(now::get);

  private static Intent manifest(String id) {
    return new Intent(id, Intent.What.COMMIT_MANIFEST, "acme/app", "sha256:" + "a".repeat(64), null, 500, List.of());
  }

  @Test
  void anIntentWhoseOutcomeWasRecordedIsNeverSettledAgain() {
    live.intentOpened(manifest("request:1"));
    live.outcomeRecorded("request:1");
    live.requestOver("request:1");
    now.addAndGet(LiveReservations.SETTLE_AFTER_MILLIS + 1);

    assertThat(live.dueIntents()).isEmpty();
    assertThat(live.unsettledCount()).isZero();
  }

  @Test
  void aRequestThatEndsWithItsOutcomeUnrecordedLeavesItsIntentToSettleAfterAGrace() {
    live.intentOpened(manifest("request:1"));
    live.requestOver("request:1");

    assertThat(live.unsettledCount()).isEqualTo(1);
    assertThat(live.dueIntents()).as("the registry may still be finishing the request").isEmpty();
    long ended = now.get();
    now.addAndGet(LiveReservations.SETTLE_AFTER_MILLIS);
    assertThat(live.dueIntents()).as("with the time its request ended").containsExactly(manifest("request:1").endedAt(ended));
    assertThat(live.dueIntents()).as("due until its outcome is recorded").hasSize(1);

    live.outcomeRecorded("request:1");
    assertThat(live.dueIntents()).isEmpty();
    assertThat(live.unsettledCount()).isZero();
  }

  @Test
  void anIntentWhoseAnswerCameAndWhoseRecordingFailedIsDueAsSoonAsItsRequestEnds() {
    live.intentOpened(manifest("request:1"));
    live.outcomeNotRecorded("request:1");
    live.requestOver("request:1");

    assertThat(live.dueIntents()).extracting(Intent::requestId).containsExactly("request:1");
  }

  /** Slots are kept with the bytes (keep.lua holds them again if Redis loses them), even a grant of none. */
  @Test
  void aGrantsSlotsAreKeptWithItsBytesAcrossGrantsAndReleases() {
    live.granted("request:1", "acme/new", 0, List.of("acme/new"));
    live.granted("request:1", "acme/new", 100, List.of("acme/new"));
    live.granted("request:2", "acme/app", 50, List.of());
    live.granted("request:3", "acme/app", 0, List.of());
    live.granted("session:9", "acme/new", 10, List.of("acme/new"));
    live.granted("request:4", "acme/app", 20, List.of("acme/app@sha256:m"));
    live.granted("request:4", "acme/app", 5, List.of("acme/app@sha256:m", "acme/app@sha256:n"));
    live.released("request:1", 100);

    assertThat(live.byNamespace().get("acme")).as("a grant of nothing holds nothing; sessions are the registry's")
        .containsExactlyInAnyOrder(
            java.util.Map.entry("request:1", new LiveReservations.Live("acme/new", 0, java.util.Set.of("acme/new"))),
            java.util.Map.entry("request:2", new LiveReservations.Live("acme/app", 50, java.util.Set.of())),
            java.util.Map.entry("request:4",
                new LiveReservations.Live("acme/app", 25, java.util.Set.of("acme/app@sha256:m", "acme/app@sha256:n"))));
  }

  @Test
  void aRequestWithNoIntentLeavesNothing() {
    live.requestOver("request:2");
    live.requestOver(null);
    assertThat(live.unsettledCount()).isZero();
  }

  @Test
  void anIntentThatCannotBeSettledForAnHourIsGivenUp() {
    live.intentOpened(manifest("request:1"));
    live.requestOver("request:1");
    now.addAndGet(LiveReservations.SETTLE_AFTER_MILLIS + LiveReservations.GIVE_UP_MILLIS + 1);

    assertThat(live.dueIntents()).isEmpty();
    assertThat(live.unsettledCount()).isZero();
  }

  @Test
  void pastItsCapacityAnUnsettledIntentIsCountedNotHeld() {
    for (int i = 0; i <= LiveReservations.UNSETTLED_CAPACITY; i++) {
      live.intentOpened(manifest("request:" + i));
      live.requestOver("request:" + i);
    }
    assertThat(live.unsettledCount()).isEqualTo(LiveReservations.UNSETTLED_CAPACITY);
    assertThat(live.notHeld()).isEqualTo(1);
  }
}
