package dev.quotaproxy.metering;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.metering.QuotaStore.Traffic;
import dev.quotaproxy.metering.TrafficBatches.Batch;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Requests' traffic adds up per repository, user and hour, and each flush writes each sum once. */
class TrafficBatchesTest {
  private static final long HOUR = 3_600_000;
  private final List<Batch> written = new ArrayList<>();
  private final TrafficBatches batches = new TrafficBatches((repository, user, traffic, at) -> {
    written.add(new Batch(repository, user == null ? "" : user, at, traffic));
    return Future.succeededFuture();
  });

  @Test
  void pullsOfOneRepositoryUserAndHourAreWrittenAsOneSum() {
    long t = 10 * HOUR + 5_000;
    for (int i = 0; i < 100; i++) {
      batches.add("acme/app", "alice", new Traffic(0, 1_000, 0, 1), t + i);
    }
    batches.add("acme/app", "alice", new Traffic(500, 0, 1, 0), t + 200);
    assertThat(written).as("nothing written before a flush").isEmpty();

    batches.flush();

    assertThat(written).containsExactly(new Batch("acme/app", "alice", 10 * HOUR, new Traffic(500, 100_000, 1, 100)));
    written.clear();
    batches.flush();
    assertThat(written).as("a flush writes each request once").isEmpty();
  }

  @Test
  void repositoriesUsersAndHoursAreKeptApart() {
    batches.add("acme/app", "alice", new Traffic(0, 10, 0, 1), 10 * HOUR + 1);
    batches.add("acme/app", "bob", new Traffic(0, 20, 0, 1), 10 * HOUR + 2);
    batches.add("acme/web", "alice", new Traffic(0, 30, 0, 1), 10 * HOUR + 3);
    batches.add("acme/app", "alice", new Traffic(0, 40, 0, 1), 11 * HOUR);
    batches.add("acme/app", null, new Traffic(0, 50, 0, 1), 11 * HOUR + 9);

    batches.flush();

    assertThat(written).containsExactlyInAnyOrder(
        new Batch("acme/app", "alice", 10 * HOUR, new Traffic(0, 10, 0, 1)),
        new Batch("acme/app", "bob", 10 * HOUR, new Traffic(0, 20, 0, 1)),
        new Batch("acme/web", "alice", 10 * HOUR, new Traffic(0, 30, 0, 1)),
        new Batch("acme/app", "alice", 11 * HOUR, new Traffic(0, 40, 0, 1)),
        new Batch("acme/app", "", 11 * HOUR, new Traffic(0, 50, 0, 1)));
  }

  @Test
  void pastTheKeyLimitARequestIsWrittenOnItsOwnRatherThanHeld() {
    for (int i = 0; i < TrafficBatches.MAX_KEYS; i++) {
      batches.add("acme/r" + i, "u", new Traffic(0, 1, 0, 1), HOUR);
    }
    assertThat(written).isEmpty();
    batches.add("acme/one-more", "u", new Traffic(0, 7, 0, 1), HOUR);
    assertThat(written).containsExactly(new Batch("acme/one-more", "u", HOUR, new Traffic(0, 7, 0, 1)));
    batches.flush();
    assertThat(written).hasSize(TrafficBatches.MAX_KEYS + 1);
  }
}
