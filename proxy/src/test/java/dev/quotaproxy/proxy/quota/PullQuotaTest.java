package dev.quotaproxy.proxy.quota;

import static dev.quotaproxy.proxy.quota.RuleFixture.done;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.metering.QuotaStore.EgressCheck;
import dev.quotaproxy.metering.QuotaStore.EgressGrant;
import dev.quotaproxy.metering.QuotaStore.Rejection;
import dev.quotaproxy.metering.QuotaStore.Traffic;
import dev.quotaproxy.proxy.quota.ExchangeQuota.Admission;
import dev.quotaproxy.proxy.quota.ExchangeQuota.Answer;
import dev.quotaproxy.proxy.route.OciOperation;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Pulls: decided on the registry's answer; the body's length is reserved in every egress window before it
 * moves, refused 429 over a limit, settled to what was sent; pulls keep working without the store.
 */
class PullQuotaTest {
  private static final String DIGEST = FakeExchange.digest('a');

  private final RuleFixture rules = new RuleFixture();
  private FakeExchange exchange = FakeExchange.of(OciOperation.BLOB_GET, "acme/app", "/v2/acme/app/blobs/" + DIGEST).digest(DIGEST);

  private PullQuota rule() {
    return new PullQuota(rules.policy(), exchange);
  }

  private static FakeExchange manifestGet() {
    return FakeExchange.of(OciOperation.MANIFEST_GET, "acme/app", "/v2/acme/app/manifests/v1").reference("v1");
  }

  @Test
  void nothingIsAskedBeforeTheRegistryAnswersEvenReadOnly() {
    rules.readOnly().systemUsageUnknown();
    PullQuota rule = rule();

    assertThat(done(rule.admit())).isSameAs(Admission.FORWARD);
    assertThat(done(rule.decide())).isSameAs(Admission.FORWARD);

    assertThat(rules.store.calls()).isEmpty();
  }

  @Test
  void theBodysLengthIsReservedThenSettledToWhatWasSentAndMetered() {
    PullQuota rule = rule();

    assertThat(done(rule.answered(200, FakeExchange.headers("Content-Length", "5000")))).isSameAs(Answer.RELAY);
    rule.ended(200, 0, 3000);

    assertThat(rules.store.only("reserveEgress").args()).containsExactly("acme/app", 5000L);
    EgressGrant grant = (EgressGrant) rules.store.only("settleEgress").arg(1);
    assertThat(grant.reservedBytes()).isEqualTo(5000);
    assertThat(rules.store.only("settleEgress").arg(2)).isEqualTo(3000L);
    assertThat(rules.store.only("meter").arg(2)).isEqualTo(new Traffic(0, 3000, 0, 0));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "chunked", "-5"})
  void aBodyOfUnknownLengthReservesNothingUpFront(String length) {
    exchange = manifestGet();
    PullQuota rule = rule();

    done(rule.answered(200, length.isEmpty() ? FakeExchange.headers() : FakeExchange.headers("Content-Length", length)));
    rule.ended(200, 0, 700);

    assertThat(rules.store.only("reserveEgress").args()).containsExactly("acme/app", 0L);
    assertThat(rules.store.only("meter").arg(2)).isEqualTo(new Traffic(0, 700, 0, 1));
  }

  @Test
  void aPullOverAnEgressLimitIsRefused429AndRecorded() {
    EgressCheck check = new EgressCheck(false, "acme", 9000, 10_000, 3600, 120, 5000);
    rules.store.answerWith("reserveEgress", EgressGrant.refused(check));
    PullQuota rule = rule();

    Answer answer = done(rule.answered(200, FakeExchange.headers("Content-Length", "5000")));
    rule.ended(429, 0, 200);

    assertThat(answer.refusal().status()).isEqualTo(429);
    assertThat(answer.refusal().code()).isEqualTo("TOOMANYREQUESTS");
    assertThat(answer.refusal().retryAfterSeconds()).isEqualTo(120);
    Rejection recorded = (Rejection) rules.store.only("recordRejection").arg(2);
    assertThat(recorded.reason()).isEqualTo("egress_limit");
    assertThat(recorded.scope()).isEqualTo("acme");
    assertThat(rules.store.calls("settleEgress")).isEmpty();
    assertThat(rules.store.calls("meter")).isEmpty();
  }

  @Test
  void anUnreachableStoreLetsThePullThrough() {
    rules.store.fail("reserveEgress");
    PullQuota rule = rule();

    assertThat(done(rule.answered(200, FakeExchange.headers("Content-Length", "5000")))).isSameAs(Answer.RELAY);
    rule.ended(200, 0, 5000);

    assertThat(rules.store.calls("settleEgress")).isEmpty();
    assertThat(rules.store.only("meter").arg(2)).isEqualTo(new Traffic(0, 5000, 0, 0));
  }

  @ParameterizedTest
  @ValueSource(ints = {304, 401, 404, 500})
  void anAnswerWithoutABodyIsNeitherReservedNorMetered(int status) {
    exchange = manifestGet();
    PullQuota rule = rule();

    done(rule.answered(status, FakeExchange.headers("Content-Length", "100")));
    rule.ended(status, 0, 100);

    assertThat(rules.store.calls()).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(ints = {300, 304})
  void aBlobAnswerInThreeHundredsThatIsNoRedirectIsNotCharged(int status) {
    rules.store.answerWith("sizeOf", 8000L);
    PullQuota rule = rule();

    done(rule.answered(status, FakeExchange.headers()));
    rule.ended(status, 0, 0);

    assertThat(rules.store.calls()).isEmpty();
  }

  @Test
  void aBlobRedirectedToObjectStorageIsChargedItsKnownSize() {
    rules.store.answerWith("sizeOf", 8000L);
    PullQuota rule = rule();

    done(rule.answered(307, FakeExchange.headers("Location", "https://bucket.example/blob")));
    rule.ended(307, 0, 0);

    assertThat(rules.store.only("sizeOf").args()).containsExactly("acme", DIGEST);
    assertThat(rules.store.only("reserveEgress").args()).containsExactly("acme/app", 8000L);
    assertThat(rules.store.only("settleEgress").arg(2)).isEqualTo(8000L);
    assertThat(rules.store.only("meter").arg(2)).isEqualTo(new Traffic(0, 8000, 0, 0));
  }

  @Test
  void aGrantInNoWindowHasNothingToSettle() {
    rules.store.answerWith("reserveEgress", new EgressGrant(true, 5000, List.of(), null));
    PullQuota rule = rule();

    done(rule.answered(200, FakeExchange.headers("Content-Length", "5000")));
    rule.ended(200, 0, 5000);

    assertThat(rules.store.calls("settleEgress")).isEmpty();
    assertThat(rules.store.calls("meter")).hasSize(1);
  }

  @Test
  void aManifestPullIsCountedAsAPull() {
    exchange = manifestGet();
    PullQuota rule = rule();

    done(rule.answered(200, FakeExchange.headers("Content-Length", "400")));
    rule.ended(200, 0, 400);

    assertThat(rules.store.only("meter").arg(2)).isEqualTo(new Traffic(0, 400, 0, 1));
  }
}
