package dev.quotaproxy.metering;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.metering.support.TestRedis;
import dev.quotaproxy.oci.Blob;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A process decides with one store client per event loop. Redis goes back to an older state after one of
 * them saw the namespace's events further on: a request on another event loop must find that state
 * unknown too, and have the namespace restored before it decides.
 */
class SeenSequencesTest {
  private static final String NAMESPACE = "seen";
  private static TestRedis redis;
  private static Vertx vertx;

  @BeforeAll
  static void start() {
    redis = TestRedis.start();
    vertx = Vertx.vertx();
  }

  @AfterAll
  static void stop() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
    redis.close();
  }

  @Test
  void anOlderStateOneClientOfTheProcessSawPastIsUnknownToEveryOther() throws Exception {
    List<String> restored = new CopyOnWriteArrayList<>();
    // Records the restore it is asked for, and refuses it: the decision must not be made on the older state.
    NamespaceRecovery recovery = namespace -> {
      restored.add(namespace);
      return Future.failedFuture(new IllegalStateException("restore refused in this test"));
    };
    SeenSequences process = new SeenSequences();
    RedisQuotaStore first = store(process, null);
    RedisQuotaStore other = store(process, recovery);

    first.commitBlob(NAMESPACE + "/app", "request:1", null, new Blob("sha256:" + "a".repeat(64), 300), "alice").await(10, TimeUnit.SECONDS);
    // Redis back to before that commit, as an older snapshot brings it: its events numbered lower.
    redis.command(Request.cmd(Command.SET).arg(QuotaKeys.of(NAMESPACE).sequence()).arg(0));

    Future<?> drop = other.dropBlob(NAMESPACE + "/app", "sha256:" + "a".repeat(64), "alice", null);
    drop.otherwiseEmpty().await(10, TimeUnit.SECONDS);

    assertThat(drop.failed()).as("no decision on the older state").isTrue();
    assertThat(restored).containsExactly(NAMESPACE);
  }

  /** A store on a client of its own, sharing the process's floor; a namespace unknown at first is marked new. */
  private static RedisQuotaStore store(SeenSequences process, NamespaceRecovery recovery) {
    StoreClient client = StoreClient.create(vertx, RedisClients.standalone(redis.url()), 2, EmittedEvents.NONE, CallTimer.UNTIMED, process);
    NamespaceGate gate = recovery == null ? new NamespaceGate(client) : new NamespaceGate(client, recovery);
    return new RedisQuotaStore(gate, Duration.ofMinutes(10));
  }
}
