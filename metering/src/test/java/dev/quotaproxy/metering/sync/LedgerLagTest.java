package dev.quotaproxy.metering.sync;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.metering.sync.LedgerLag.Lag;
import dev.quotaproxy.metering.QuotaKeys;
import dev.quotaproxy.metering.support.TestRedis;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The lag read from real streams in every state the feed leaves them: never read, read and pending, read and acknowledged. */
class LedgerLagTest {
  /** The entries below are added at these Redis times (explicit ids), read with a clock at NOW. */
  private static final long NOW = 1_800_000_000_000L;

  private final Vertx vertx = Vertx.vertx();
  private TestRedis redis;
  private LedgerLag lag;

  @BeforeEach
  void start() {
    redis = TestRedis.start();
    lag = new LedgerLag(Redis.createClient(vertx, redis.url()), () -> NOW);
    redis.command(Request.cmd(Command.SADD).arg(QuotaKeys.NAMESPACES).arg("acme").arg("globex").arg("empty"));
  }

  @AfterEach
  void stop() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
    redis.close();
  }

  @Test
  void nothingWaitsWithoutStreams() throws Exception {
    assertThat(measure()).isEqualTo(new Lag(0, 0));
  }

  @Test
  void aStreamTheFeedNeverReadWaitsWhole() throws Exception {
    add("acme", NOW - 30_000);
    add("acme", NOW - 20_000);
    add("acme", NOW - 10_000);

    assertThat(measure()).isEqualTo(new Lag(3, 30_000));
  }

  @Test
  void entriesReadButNotAcknowledgedWaitWithThoseNotRead() throws Exception {
    add("acme", NOW - 50_000);
    add("acme", NOW - 40_000);
    add("acme", NOW - 5_000);
    group("acme");
    read("acme", 2); // two delivered, pending until acknowledged

    assertThat(measure()).isEqualTo(new Lag(3, 50_000));
  }

  @Test
  void acknowledgedEntriesNoLongerWaitAndTheOldestIsTheFirstUndelivered() throws Exception {
    add("acme", NOW - 50_000);
    add("acme", NOW - 40_000);
    add("acme", NOW - 7_000);
    group("acme");
    read("acme", 2).forEach(id -> redis.command(Request.cmd(Command.XACK).arg(stream("acme")).arg(LedgerFeed.GROUP).arg(id)));

    assertThat(measure()).isEqualTo(new Lag(1, 7_000));
  }

  @Test
  void namespacesAddUpAndTheOldestOfAllCounts() throws Exception {
    add("acme", NOW - 3_000);
    add("globex", NOW - 90_000);
    add("globex", NOW - 1_000);
    group("globex");
    read("globex", 1);

    assertThat(measure()).isEqualTo(new Lag(3, 90_000, 1));
  }

  @Test
  void everyNamespaceWhoseOldestEventIsOverAMinuteOldCountsAsStalled() throws Exception {
    add("acme", NOW - 61_000);
    add("globex", NOW - 120_000);
    add("empty", NOW - 59_000);

    assertThat(measure()).isEqualTo(new Lag(3, 120_000, 2));
  }

  @Test
  void aNamespaceWhoseListingWasLostIsCountedOnceListedAgain() throws Exception {
    add("acme", NOW - 5_000);
    redis.command(Request.cmd(Command.DEL).arg(QuotaKeys.NAMESPACES));
    assertThat(measure()).as("unlisted: the lag cannot see it").isEqualTo(new Lag(0, 0));

    redis.command(Request.cmd(Command.SADD).arg(QuotaKeys.NAMESPACES).arg("acme").arg(QuotaKeys.CENSUS_PREFIX + "token"));

    assertThat(measure()).as("the census member is no namespace").isEqualTo(new Lag(1, 5_000));
  }

  @Test
  void aDrainedStreamWaitsForNothing() throws Exception {
    add("acme", NOW - 3_000);
    group("acme");
    read("acme", 10).forEach(id -> redis.command(Request.cmd(Command.XACK).arg(stream("acme")).arg(LedgerFeed.GROUP).arg(id)));

    assertThat(measure()).isEqualTo(new Lag(0, 0));
  }

  private Lag measure() throws Exception {
    return lag.measure().await(10, TimeUnit.SECONDS);
  }

  private static String stream(String namespace) {
    return QuotaKeys.of(namespace).events();
  }

  private void add(String namespace, long atMillis) {
    redis.command(Request.cmd(Command.XADD).arg(stream(namespace)).arg(atMillis + "-*").arg("type").arg("test"));
  }

  private void group(String namespace) {
    redis.command(Request.cmd(Command.XGROUP).arg("CREATE").arg(stream(namespace)).arg(LedgerFeed.GROUP).arg("0"));
  }

  private java.util.List<String> read(String namespace, int count) {
    var reply = redis.command(Request.cmd(Command.XREADGROUP).arg("GROUP").arg(LedgerFeed.GROUP).arg(LedgerFeed.CONSUMER)
        .arg("COUNT").arg(count).arg("STREAMS").arg(stream(namespace)).arg(">"));
    var entries = reply.isMap() ? reply.get(stream(namespace)) : reply.get(0).get(1);
    java.util.List<String> ids = new java.util.ArrayList<>();
    entries.forEach(entry -> ids.add(entry.get(0).toString()));
    return ids;
  }
}
