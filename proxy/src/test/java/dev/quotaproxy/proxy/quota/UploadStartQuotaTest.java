package dev.quotaproxy.proxy.quota;

import static dev.quotaproxy.proxy.quota.RuleFixture.done;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.metering.QuotaStore.Denial;
import dev.quotaproxy.metering.QuotaStore.Rejection;
import dev.quotaproxy.metering.QuotaStore.Reservation;
import dev.quotaproxy.proxy.quota.ExchangeQuota.Admission;
import dev.quotaproxy.proxy.quota.ExchangeQuota.Answer;
import dev.quotaproxy.proxy.quota.FakeExchange.Asked;
import dev.quotaproxy.proxy.route.OciOperation;
import io.vertx.core.MultiMap;
import io.vertx.core.http.HttpMethod;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** An upload start charges nothing; the registry's 202 is recorded as a clean session, or refused and cancelled. */
class UploadStartQuotaTest {
  private static final String LOCATION = "/v2/acme/app/blobs/uploads/u1?_state=s";

  private final RuleFixture rules = new RuleFixture();
  private final FakeExchange exchange = FakeExchange.of(OciOperation.UPLOAD_START, "acme/app", "/v2/acme/app/blobs/uploads/");

  private Answer answered(int status, MultiMap headers) {
    return done(new UploadStartQuota(rules.policy(), exchange).answered(status, headers));
  }

  @Test
  void nothingIsAskedOrReservedBeforeTheRegistryAnswers() {
    UploadStartQuota rule = new UploadStartQuota(rules.readOnly().policy(), exchange);

    assertThat(done(rule.admit())).isSameAs(Admission.FORWARD);
    assertThat(done(rule.decide())).isSameAs(Admission.FORWARD);
    rule.ended(401, 0, 0);

    assertThat(rules.store.calls()).isEmpty();
  }

  @Test
  void aSessionTheRegistryOpenedIsRecordedInTheStore() {
    Answer answer = answered(202, FakeExchange.headers("Location", LOCATION));

    assertThat(answer).isSameAs(Answer.RELAY);
    assertThat(rules.store.only("openSession").args()).containsExactly("acme/app", "session:u1");
    assertThat(rules.store.methods()).containsExactly("openSession");
    assertThat(exchange.asked).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(ints = {201, 400, 401, 404, 500})
  void anyOtherAnswerIsRelayedWithoutAWord(int status) {
    assertThat(answered(status, FakeExchange.headers("Location", LOCATION))).isSameAs(Answer.RELAY);
    assertThat(rules.store.calls()).isEmpty();
    assertThat(exchange.asked).isEmpty();
  }

  @Test
  void a202WithoutALocationOpensNothingTheProxyCouldName() {
    assertThat(answered(202, FakeExchange.headers())).isSameAs(Answer.RELAY);
    assertThat(rules.store.calls()).isEmpty();
  }

  @Test
  void aReadOnlyRegistryRefusesTheSessionCancelsItAndRecordsTheRefusal() {
    rules.readOnly();

    Answer answer = answered(202, FakeExchange.headers("Location", LOCATION));

    assertThat(answer.refused()).isTrue();
    assertThat(answer.refusal().status()).isEqualTo(403);
    assertThat(answer.refusal().code()).isEqualTo("DENIED");
    assertThat(answer.refusal().message()).contains("read-only");
    assertThat(exchange.asked).containsExactly(new Asked(HttpMethod.DELETE, LOCATION));
    assertThat(rules.store.calls("openSession")).isEmpty();
    Rejection recorded = (Rejection) rules.store.only("recordRejection").arg(2);
    assertThat(recorded.scope()).isEqualTo(QuotaPolicy.SYSTEM_SCOPE);
    assertThat(recorded.reason()).isEqualTo("read_only");
  }

  @Test
  void aScopeAtItsLimitRefusesTheSessionAndCancelsItWhereTheRegistrySaid() {
    Denial full = new Denial("acme", 1000, 0, 1000, 0);
    rules.store.answerWith("openSession", new Reservation(0, full));

    Answer answer = answered(202, FakeExchange.headers("Location", "https://registry.internal:5000" + LOCATION));

    assertThat(answer.refusal().status()).isEqualTo(403);
    assertThat(answer.refusal().detail()).containsEntry("scope", "acme").containsEntry("limit", 1000L);
    assertThat(exchange.asked).containsExactly(new Asked(HttpMethod.DELETE, LOCATION));
    assertThat(rules.store.only("recordRejection").args()).containsExactly("acme/app", "alice", Rejection.of(full));
  }

  @Test
  void aCancelTheRegistryCannotTakeStillRefuses() {
    rules.readOnly();
    exchange.upstreamFails(HttpMethod.DELETE, LOCATION);

    assertThat(answered(202, FakeExchange.headers("Location", LOCATION)).refusal().status()).isEqualTo(403);
  }

  @Test
  void anUnreachableStoreRefusesTheSessionWhenFailingClosed() {
    rules.store.fail("openSession");

    Answer answer = answered(202, FakeExchange.headers("Location", LOCATION));

    assertThat(answer.refusal().status()).isEqualTo(503);
    assertThat(answer.refusal().code()).isEqualTo("UNAVAILABLE");
    assertThat(exchange.asked).containsExactly(new Asked(HttpMethod.DELETE, LOCATION));
  }

  @Test
  void anUnreachableStoreLetsTheSessionThroughWhenFailingOpen() {
    rules.failOpen().store.fail("openSession");

    assertThat(answered(202, FakeExchange.headers("Location", LOCATION))).isSameAs(Answer.RELAY);
    assertThat(exchange.asked).isEmpty();
  }

  @Test
  void unknownSystemUsageRefusesWithoutAskingTheStoreWhenFailingClosed() {
    rules.systemUsageUnknown();

    Answer answer = answered(202, FakeExchange.headers("Location", LOCATION));

    assertThat(answer.refusal().status()).isEqualTo(503);
    assertThat(rules.store.calls("openSession")).isEmpty();
    assertThat(exchange.asked).containsExactly(new Asked(HttpMethod.DELETE, LOCATION));
  }

  @Test
  void unknownSystemUsageStillRecordsTheSessionWhenFailingOpen() {
    rules.systemUsageUnknown().failOpen();

    assertThat(answered(202, FakeExchange.headers("Location", LOCATION))).isSameAs(Answer.RELAY);
    assertThat(rules.store.only("openSession").args()).containsExactly("acme/app", "session:u1");
  }

  @ParameterizedTest
  @CsvSource({
      "/v2/acme/app/blobs/uploads/u1,                         u1",
      "/v2/acme/app/blobs/uploads/u1?_state=abc,              u1",
      "http://registry:5000/v2/acme/app/blobs/uploads/u2?x=1, u2"})
  void theUploadIdIsTheLastSegmentOfTheSessionsPath(String location, String uploadId) {
    assertThat(UploadStartQuota.uploadId(location)).isEqualTo(uploadId);
  }
}
