package dev.quotaproxy.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.ledger.support.TestPostgres;
import io.vertx.core.Vertx;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class LedgerEpochTest {
  static TestPostgres postgres;
  static Vertx vertx;
  static Ledger ledger;

  @BeforeAll
  static void start() {
    postgres = TestPostgres.start();
    vertx = Vertx.vertx();
    ledger = new Ledger(postgres.database().pool(vertx, 2));
  }

  @AfterAll
  static void stop() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
    postgres.close();
  }

  @Test
  void theRedisEpochIsMadeOnceAndKept() throws Exception {
    String first = ledger.redisEpoch().await(10, TimeUnit.SECONDS);
    assertThat(ledger.redisEpoch().await(10, TimeUnit.SECONDS)).isEqualTo(first);
  }
}
