package dev.quotaproxy.proxy.quota;

import static dev.quotaproxy.proxy.quota.RuleFixture.done;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.metering.QuotaStore.Denial;
import dev.quotaproxy.metering.QuotaStore.Rejection;
import dev.quotaproxy.metering.QuotaStore.Reservation;
import dev.quotaproxy.metering.QuotaStore.Traffic;
import dev.quotaproxy.proxy.quota.ExchangeQuota.Admission;
import dev.quotaproxy.proxy.quota.ExchangeQuota.Answer;
import dev.quotaproxy.proxy.route.OciOperation;
import io.vertx.core.Vertx;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link BlobUploadQuota} for chunks with Content-Length: reserved whole before a byte moves, moved into the
 * session on the registry's 2xx, and given back (what went upstream kept for the session, dirty) when the
 * registry does not take them. The requests that commit (a closing PUT, a monolithic POST):
 * {@link BlobUploadCloseQuotaTest}; chunked bodies: {@link ChunkedUploadQuotaTest}.
 */
class BlobUploadQuotaTest {
  static final String DIGEST = FakeExchange.digest('b');
  static final String SESSION = "session:u1";
  static final String SESSION_URI = "/v2/acme/app/blobs/uploads/u1";

  private final RuleFixture rules = new RuleFixture();
  private FakeExchange exchange = chunk();

  static FakeExchange chunk() {
    FakeExchange chunk = FakeExchange.of(OciOperation.UPLOAD_CHUNK, "acme/app", SESSION_URI).uploadId("u1");
    chunk.contentLength = 1000;
    return chunk;
  }

  static FakeExchange close() {
    FakeExchange close = FakeExchange.of(OciOperation.UPLOAD_COMPLETE, "acme/app", SESSION_URI + "?digest=" + DIGEST)
        .uploadId("u1").digest(DIGEST);
    close.contentLength = 200;
    return close;
  }

  static FakeExchange monolithic() {
    FakeExchange upload = FakeExchange.of(OciOperation.UPLOAD_MONOLITHIC, "acme/app", "/v2/acme/app/blobs/uploads/?digest=" + DIGEST)
        .digest(DIGEST);
    upload.contentLength = 500;
    return upload;
  }

  /** A rule admitted and decided on. */
  private BlobUploadQuota decided() {
    BlobUploadQuota rule = new BlobUploadQuota(rules.policy(), exchange);
    assertThat(done(rule.admit()).refused()).isFalse();
    assertThat(done(rule.decide()).refused()).isFalse();
    return rule;
  }

  private String requestId() {
    return (String) rules.store.only("requestEnded").arg(0);
  }

  @Test
  void aChunkIsReservedWholeUnderItsOwnIdBeforeItMovesAndIntendsNoCommit() {
    BlobUploadQuota rule = decided();
    rule.ended(202, 1000, 0);

    assertThat(rules.store.only("reserveBytes").args()).containsExactly("acme/app", requestId(), SESSION, 1000L, 1000L);
    assertThat(rules.store.calls("intendCommit")).isEmpty();
    assertThat(rules.store.calls("session")).isEmpty();
  }

  @Test
  void aBodyOfNoDeclaredLengthReservesNothingUpFront() {
    exchange.contentLength = -1;
    exchange.chunked = true;
    decided();

    assertThat(rules.store.calls()).isEmpty();
  }

  @Test
  void aChunkThatDoesNotFitIsRefusedAndRecordedAndItsIdSettledEmpty() {
    Denial full = new Denial("acme", 900, 50, 1000, 1000);
    rules.store.answerWith("reserveBytes", new Reservation(0, full));
    BlobUploadQuota rule = new BlobUploadQuota(rules.policy(), exchange);

    Admission admission = done(rule.decide());
    rule.ended(403, 0, 0);

    assertThat(admission.refusal().status()).isEqualTo(403);
    assertThat(admission.refusal().detail()).containsEntry("scope", "acme").containsEntry("requested", 1000L);
    assertThat(rules.store.only("recordRejection").args()).containsExactly("acme/app", "alice", Rejection.of(full));
    assertThat(rules.store.only("settle").args()).containsExactly("acme/app", requestId(), SESSION, 0L, false);
  }

  @Test
  void aReadOnlyRegistryRefusesBeforeAnythingIsReserved() {
    rules.readOnly();

    assertThat(done(new BlobUploadQuota(rules.policy(), exchange).decide()).refusal().status()).isEqualTo(403);
    assertThat(rules.store.methods()).containsExactly("recordRejection");
  }

  @ParameterizedTest
  @CsvSource({"false, 503", "true, 0"})
  void anUnreachableStoreRefusesUnlessFailingOpen(boolean failOpen, int refusal) {
    rules.failOpen = failOpen;
    rules.store.fail("reserveBytes");

    Admission admission = done(new BlobUploadQuota(rules.policy(), exchange).decide());

    assertThat(admission.refused() ? admission.refusal().status() : 0).isEqualTo(refusal);
  }

  @Test
  void aReservationThatArrivesRetiredIsAStoreFailure() {
    rules.store.answerWith("reserveBytes", Reservation.RETIRED);

    assertThat(done(new BlobUploadQuota(rules.policy(), exchange).decide()).refusal().status()).isEqualTo(503);
  }

  @Test
  void aRefusalDueOnlyToOthersBytesInFlightIsWaitedOut() throws Exception {
    rules.vertx = Vertx.vertx();
    try {
      rules.store.answerOnce("reserveBytes", new Reservation(0, new Denial("acme", 0, 1000, 1000, 1000)));
      Admission admission = new BlobUploadQuota(rules.policy(), exchange).decide().await(10, TimeUnit.SECONDS);

      assertThat(admission.refused()).isFalse();
      assertThat(rules.store.calls("reserveBytes")).hasSize(2);
      assertThat(rules.store.calls("recordRejection")).isEmpty();
    } finally {
      rules.vertx.close().await(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void aChunkAnswered2xxMovesWhatWentUpIntoTheSessionOnce() {
    exchange.sentUpstream = 1000;
    BlobUploadQuota rule = decided();

    assertThat(done(rule.answered(202, FakeExchange.headers()))).isSameAs(Answer.RELAY);
    rule.ended(202, 1000, 0);

    assertThat(rules.store.only("settle").args()).containsExactly("acme/app", requestId(), SESSION, 1000L, false);
    assertThat(rules.store.calls("release")).isEmpty();
    assertThat(rules.store.only("meter").arg(2)).isEqualTo(new Traffic(1000, 0, 0, 0));
  }

  @ParameterizedTest
  @CsvSource({"400, 600, true", "500, 600, true", "416, 0, false"})
  void aChunkTheRegistryRefusedKeepsWhatWentUpForTheSessionDirty(int status, long sent, boolean dirty) {
    exchange.sentUpstream = sent;
    BlobUploadQuota rule = decided();

    done(rule.answered(status, FakeExchange.headers()));
    rule.ended(status, sent, 0);

    assertThat(rules.store.only("settle").args()).containsExactly("acme/app", requestId(), SESSION, sent, dirty);
  }

  @Test
  void anAnswerBeforeTheBodyWasAskedForWritesNothing() {
    BlobUploadQuota rule = new BlobUploadQuota(rules.policy(), exchange);

    assertThat(done(rule.answered(401, FakeExchange.headers()))).isSameAs(Answer.RELAY);
    rule.ended(401, 0, 0);

    assertThat(rules.store.methods()).containsExactly("requestEnded");
  }

  @Test
  void aChunkLeftWithoutAnAnswerKeepsWhatWentUpForTheSessionDirty() {
    exchange.sentUpstream = 300;
    decided().ended(0, 300, 0);

    assertThat(rules.store.only("settle").args()).containsExactly("acme/app", requestId(), SESSION, 300L, true);
  }
}
