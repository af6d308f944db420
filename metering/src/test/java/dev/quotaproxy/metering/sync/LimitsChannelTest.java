package dev.quotaproxy.metering.sync;

import static dev.quotaproxy.testing.Eventually.await;
import static dev.quotaproxy.testing.Eventually.eventually;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.config.Limits;
import dev.quotaproxy.metering.EgressLimits;
import dev.quotaproxy.metering.RedisClients;
import dev.quotaproxy.metering.RedisLimits;
import dev.quotaproxy.metering.StoreClient;
import dev.quotaproxy.metering.support.TestRedis;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A limit another proxy writes reaches this proxy's view of egress limits through qp:limits at once, not at
 * the next full refresh; after Redis drops the subscription, the channel subscribes again.
 */
class LimitsChannelTest {
  private TestRedis redis;
  private Vertx vertx;
  private LimitsChannel channel;

  @BeforeEach
  void start() throws Exception {
    redis = TestRedis.start();
    vertx = Vertx.vertx();
  }

  @AfterEach
  void stop() throws Exception {
    if (channel != null) {
      channel.close();
    }
    vertx.close().await(10, TimeUnit.SECONDS);
    redis.close();
  }

  @Test
  void aLimitWrittenByAnotherProxyIsKnownHereWithoutWaitingForTheRefresh() throws Exception {
    EgressLimits here = new EgressLimits();
    here.replaceAll(List.of());
    channel = new LimitsChannel(vertx, RedisClients.standalone(redis.url()), here);
    await(channel.start());
    RedisClients clients = RedisClients.standalone(redis.url());
    // Another proxy: its own client and its own view.
    RedisLimits elsewhere = new RedisLimits(StoreClient.create(vertx, clients, 1), new EgressLimits());
    assertThat(here.anyOnPathOf("acme/app")).isFalse();

    assertThat(await(elsewhere.putLimits("acme", new Limits(-1, -1, 1_000_000, 3600), 10))).isTrue();
    eventually(Duration.ofSeconds(5), () -> assertThat(here.anyOnPathOf("acme/app")).as("acme's new egress limit").isTrue());

    assertThat(await(elsewhere.putLimits("acme", new Limits(-1, -1, -1, 3600), 11))).isTrue();
    eventually(Duration.ofSeconds(5), () -> assertThat(here.anyOnPathOf("acme/app")).as("removed").isFalse());

    // Redis closes every client's connection: the channel subscribes again.
    redis.command(Request.cmd(Command.CLIENT).arg("KILL").arg("TYPE").arg("pubsub"));
    eventually(Duration.ofSeconds(10), () -> {
      assertThat(await(elsewhere.putLimits("globex", new Limits(-1, -1, 5, 3600), 12))).isTrue();
      assertThat(here.anyOnPathOf("globex/web")).as("after the reconnection").isTrue();
    });
  }
}
