package dev.quotaproxy.proxy.quota;

import static dev.quotaproxy.proxy.quota.BlobUploadQuotaTest.DIGEST;
import static dev.quotaproxy.proxy.quota.BlobUploadQuotaTest.SESSION;
import static dev.quotaproxy.proxy.quota.RuleFixture.done;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.metering.QuotaStore.Session;
import dev.quotaproxy.metering.QuotaStore.Traffic;
import dev.quotaproxy.oci.Blob;
import dev.quotaproxy.proxy.quota.ExchangeQuota.Admission;
import dev.quotaproxy.proxy.quota.ExchangeQuota.Answer;
import dev.quotaproxy.proxy.quota.FakeExchange.Asked;
import io.vertx.core.http.HttpMethod;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link BlobUploadQuota} for the requests that may commit a blob, a session's closing PUT and a monolithic
 * POST: what the session holds is learned first (from the store when it saw every byte, else from the
 * registry), the commit is intended before the body goes, the registry's 201 is charged under the digest
 * and at the size the registry gives, and a failed close keeps for the session what the registry holds.
 */
class BlobUploadCloseQuotaTest {
  private final RuleFixture rules = new RuleFixture();
  private FakeExchange exchange = BlobUploadQuotaTest.close();

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

  /** The request id, before {@code ended} has told it: the one it reserved under. */
  private String reservedId() {
    return (String) rules.store.only("reserveBytes").arg(1);
  }

  @Test
  void aCloseOfACleanSessionTakesWhatItHoldsFromTheStoreAndIntendsItsCommit() {
    rules.store.answerWith("session", new Session(true, 300, false));
    decided();

    assertThat(rules.store.methods()).containsExactly("session", "reserveBytes", "intendCommit");
    String requestId = (String) rules.store.only("reserveBytes").arg(1);
    assertThat(rules.store.only("reserveBytes").args()).containsExactly("acme/app", requestId, SESSION, 200L, 200L);
    assertThat(rules.store.only("intendCommit").args()).containsExactly("acme/app", requestId, SESSION, DIGEST);
    assertThat(exchange.asked).isEmpty();
  }

  @ParameterizedTest
  @CsvSource({"true, 100, true, 0-299, 400", "false, 0, true, 0-99, 300"})
  void aCloseOfADirtyOrUnknownSessionReservesWhatTheRegistryHoldsUncovered(
      boolean recorded, long held, boolean dirty, String range, long reserved) {
    rules.store.answerWith("session", new Session(recorded, held, dirty));
    exchange.upstream(HttpMethod.GET, exchange.uri, 204, "Range", range);
    decided();

    assertThat(exchange.asked).containsExactly(new Asked(HttpMethod.GET, exchange.uri));
    assertThat(rules.store.only("reserveBytes").args()).endsWith(reserved, reserved);
  }

  @Test
  void aCloseOfASessionTheRegistryRefusesIsAnsweredWithItsAnswer() {
    rules.store.answerWith("session", Session.UNKNOWN);
    exchange.upstream(HttpMethod.GET, exchange.uri, 404);

    Admission admission = done(new BlobUploadQuota(rules.policy(), exchange).admit());

    assertThat(admission.answered()).isTrue();
    assertThat(admission.answer().status()).isEqualTo(404);
  }

  @Test
  void aCloseWhoseSessionTheRegistryCannotBeAskedAboutIsABadGateway() {
    rules.store.answerWith("session", Session.UNKNOWN);
    exchange.upstreamFails(HttpMethod.GET, exchange.uri);

    assertThat(done(new BlobUploadQuota(rules.policy(), exchange).admit()).refusal().status()).isEqualTo(502);
  }

  @ParameterizedTest
  @CsvSource({"false, 503", "true, 0"})
  void aCloseWhoseSessionTheStoreCannotTellRefusesUnlessFailingOpen(boolean failOpen, int refusal) {
    rules.failOpen = failOpen;
    rules.store.fail("session");

    Admission admission = done(new BlobUploadQuota(rules.policy(), exchange).admit());

    assertThat(admission.refused() ? admission.refusal().status() : 0).isEqualTo(refusal);
  }

  @ParameterizedTest
  @CsvSource({"false, 503", "true, 0"})
  void aCommitIntentTheStoreCannotRecordRefusesUnlessFailingOpen(boolean failOpen, int refusal) {
    rules.failOpen = failOpen;
    rules.store.fail("intendCommit");

    Admission admission = done(new BlobUploadQuota(rules.policy(), exchange).decide());

    assertThat(admission.refused() ? admission.refusal().status() : 0).isEqualTo(refusal);
  }

  @Test
  void aCloseWithoutAValidDigestIntendsNoCommit() {
    exchange = BlobUploadQuotaTest.close().digest("sha256:../x");
    decided();

    assertThat(rules.store.calls("intendCommit")).isEmpty();
  }

  @Test
  void aClose201IsChargedUnderTheRegistrysDigestAtTheRegistrysSize() {
    String named = FakeExchange.digest('c');
    exchange.upstream(HttpMethod.HEAD, "/v2/acme/app/blobs/" + named, 200, "Content-Length", "1234");
    exchange.sentUpstream = 200;
    BlobUploadQuota rule = decided();

    assertThat(done(rule.answered(201, FakeExchange.headers("Docker-Content-Digest", named))).refused()).isFalse();
    rule.ended(201, 200, 0);

    assertThat(rules.store.only("commitBlob").args()).containsExactly("acme/app", requestId(), SESSION, new Blob(named, 1234), "alice");
    assertThat(rules.store.calls("settle")).isEmpty();
    assertThat(rules.store.calls("release")).isEmpty();
  }

  @Test
  void aClose201WhoseSizeTheRegistryDoesNotTellIsChargedWhatTheProxyCounted() {
    rules.store.answerWith("session", new Session(true, 300, false));
    exchange.sentUpstream = 200;
    BlobUploadQuota rule = decided();

    done(rule.answered(201, FakeExchange.headers()));

    assertThat(rules.store.only("commitBlob").arg(3)).isEqualTo(new Blob(DIGEST, 500));
  }

  @Test
  void aCommitTheStoreCannotRecordStillRelaysThe201() {
    rules.store.fail("commitBlob");
    BlobUploadQuota rule = decided();

    assertThat(done(rule.answered(201, FakeExchange.headers()))).isSameAs(Answer.RELAY);
  }

  @Test
  void aClose201NamingNoValidDigestIsNotChargedAndReleasesTheRequest() {
    exchange = BlobUploadQuotaTest.close().digest("not-a-digest");
    BlobUploadQuota rule = decided();

    done(rule.answered(201, FakeExchange.headers("Docker-Content-Digest", "garbage")));
    rule.ended(201, 200, 0);

    assertThat(rules.store.calls("commitBlob")).isEmpty();
    assertThat(rules.store.only("release").args()).containsExactly("acme/app", requestId(), -1L);
  }

  @Test
  void aCloseLeftWithoutAnAnswerAfterItsIntentKeepsEverythingForTheIntent() {
    exchange.sentUpstream = 200;
    decided().ended(0, 200, 0);

    assertThat(rules.store.calls("settle")).isEmpty();
    assertThat(rules.store.calls("release")).isEmpty();
    assertThat(rules.store.calls("commitBlob")).isEmpty();
    assertThat(rules.store.only("meter").arg(2)).isEqualTo(new Traffic(200, 0, 0, 0));
  }

  @Test
  void aCloseTheRegistryFailedKeepsForTheSessionWhatTheRegistryStillHolds() {
    rules.store.answerWith("session", new Session(true, 300, false));
    exchange.upstream(HttpMethod.GET, exchange.uri, 204, "Range", "0-399");
    exchange.sentUpstream = 200;
    BlobUploadQuota rule = decided();

    done(rule.answered(507, FakeExchange.headers()));

    assertThat(rules.store.only("settle").args()).containsExactly("acme/app", reservedId(), SESSION, 100L, false);
  }

  @Test
  void aCloseTheRegistryFailedWithASessionItNoLongerHasReleasesRequestAndSession() {
    exchange.upstream(HttpMethod.GET, exchange.uri, 404);
    BlobUploadQuota rule = decided();

    done(rule.answered(500, FakeExchange.headers()));
    rule.ended(500, 200, 0);

    assertThat(rules.store.calls("release")).extracting(call -> call.arg(1)).containsExactly(requestId(), SESSION);
    assertThat(rules.store.calls("settle")).isEmpty();
  }

  @Test
  void aCloseTheRegistryRefusedKeepsWhatWentUpForTheSessionDirty() {
    exchange.sentUpstream = 200;
    BlobUploadQuota rule = decided();

    done(rule.answered(400, FakeExchange.headers()));

    assertThat(rules.store.only("settle").args()).containsExactly("acme/app", reservedId(), SESSION, 200L, true);
    assertThat(exchange.asked).isEmpty();
  }

  @Test
  void aMonolithicUploadIntendsAndCommitsWithoutASession() {
    exchange = BlobUploadQuotaTest.monolithic();
    exchange.upstream(HttpMethod.HEAD, "/v2/acme/app/blobs/" + DIGEST, 200, "Content-Length", "500");
    BlobUploadQuota rule = decided();

    done(rule.answered(201, FakeExchange.headers("Docker-Content-Digest", DIGEST)));

    assertThat(rules.store.methods()).containsExactly("reserveBytes", "intendCommit", "commitBlob");
    assertThat(rules.store.only("intendCommit").arg(2)).isNull();
    assertThat(rules.store.only("commitBlob").args()).containsExactly("acme/app", reservedId(), null, new Blob(DIGEST, 500), "alice");
  }

  @Test
  void aMonolithicUploadTheRegistryRefusedReleasesItsRequest() {
    exchange = BlobUploadQuotaTest.monolithic();
    exchange.sentUpstream = 500;
    BlobUploadQuota rule = decided();

    done(rule.answered(400, FakeExchange.headers()));
    rule.ended(400, 500, 0);

    assertThat(rules.store.only("release").args()).containsExactly("acme/app", requestId(), -1L);
    assertThat(rules.store.calls("settle")).isEmpty();
  }

  @Test
  void aMonolithicUploadTurnedIntoASessionReleasesItsRequestAndRecordsTheSession() {
    exchange = BlobUploadQuotaTest.monolithic();
    BlobUploadQuota rule = decided();

    Answer answer = done(rule.answered(202, FakeExchange.headers("Location", "/v2/acme/app/blobs/uploads/u7")));

    assertThat(answer).isSameAs(Answer.RELAY);
    assertThat(rules.store.methods()).containsSubsequence("release", "openSession");
    assertThat(rules.store.only("openSession").args()).containsExactly("acme/app", "session:u7");
    assertThat(rules.store.calls("commitBlob")).isEmpty();
  }
}
