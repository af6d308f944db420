package dev.quotaproxy.proxy.quota;

import static dev.quotaproxy.proxy.quota.RuleFixture.done;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.metering.QuotaStore.Commit;
import dev.quotaproxy.metering.QuotaStore.Denial;
import dev.quotaproxy.metering.QuotaStore.Reservation;
import dev.quotaproxy.config.Limits;
import dev.quotaproxy.metering.QuotaStore.ScopeState;
import dev.quotaproxy.oci.Blob;
import dev.quotaproxy.proxy.quota.ExchangeQuota.Admission;
import dev.quotaproxy.proxy.quota.ExchangeQuota.Answer;
import dev.quotaproxy.proxy.quota.FakeExchange.Asked;
import dev.quotaproxy.proxy.route.OciOperation;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.http.HttpMethod;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A mount reserves the blob's size where it is absent, commits on 201 and releases otherwise; when its size
 * is unknown or it does not fit it becomes a plain upload, never a refusal for quota.
 */
class MountQuotaTest {
  private static final String DIGEST = FakeExchange.digest('d');
  private static final String PLAIN_UPLOAD = "/v2/acme/app/blobs/uploads/";

  private final RuleFixture rules = new RuleFixture();
  private final FakeExchange exchange = FakeExchange.of(OciOperation.BLOB_MOUNT, "acme/app",
      "/v2/acme/app/blobs/uploads/?mount=" + DIGEST + "&from=other/lib").digest(DIGEST).mountFrom("other/lib");

  private MountQuota rule() {
    return new MountQuota(rules.policy(), exchange);
  }

  /** The namespace's digest index knows the blob at {@code size}. */
  private void knownSize(long size) {
    rules.store.answer("sizeOf", call -> Future.succeededFuture(call.arg(0).equals("acme") ? size : -1L));
  }

  private String requestId() {
    return (String) rules.store.only("reserveBlobs").arg(1);
  }

  @Test
  void aBlobOfKnownSizeIsReservedAndItsCommitIntendedUnderTheSameRequest() {
    knownSize(500);

    assertThat(done(rule().decide())).isSameAs(Admission.FORWARD);

    assertThat(rules.store.methods()).containsExactly("namespaceKnown", "sizeOf", "reserveBlobs", "intendCommit");
    assertThat(rules.store.only("namespaceKnown").args()).containsExactly("acme");
    assertThat(rules.store.only("reserveBlobs").args()).containsExactly("acme/app", requestId(), List.of(new Blob(DIGEST, 500)));
    assertThat(rules.store.only("intendCommit").args()).containsExactly("acme/app", requestId(), null, DIGEST);
    assertThat(exchange.asked).isEmpty();
  }

  @Test
  void theSizeIsLearnedFromTheSourceNamespaceWhenTheTargetDoesNotKnowIt() {
    rules.store.answer("sizeOf", call -> Future.succeededFuture(call.arg(0).equals("other") ? 700L : -1L));

    assertThat(done(rule().decide())).isSameAs(Admission.FORWARD);

    assertThat(rules.store.calls("sizeOf")).extracting(call -> call.arg(0)).containsExactly("acme", "other");
    assertThat(rules.store.only("reserveBlobs").arg(2)).isEqualTo(List.of(new Blob(DIGEST, 700)));
  }

  @Test
  void theSizeIsAskedOfTheSourceRepositoryWhenNoNamespaceKnowsIt() {
    exchange.upstream(HttpMethod.HEAD, "/v2/other/lib/blobs/" + DIGEST, 200, "Content-Length", "900");

    assertThat(done(rule().decide())).isSameAs(Admission.FORWARD);

    assertThat(exchange.asked).containsExactly(new Asked(HttpMethod.HEAD, "/v2/other/lib/blobs/" + DIGEST));
    assertThat(rules.store.only("reserveBlobs").arg(2)).isEqualTo(List.of(new Blob(DIGEST, 900)));
  }

  @Test
  void aBlobOfUnknownSizeIsMountedAsAPlainUpload() {
    Admission admission = done(rule().decide());

    assertThat(admission.uri()).isEqualTo(PLAIN_UPLOAD);
    assertThat(admission.refused()).isFalse();
    assertThat(rules.store.calls("reserveBlobs")).isEmpty();
    assertThat(rules.store.calls("intendCommit")).isEmpty();
  }

  @Test
  void aSourceThatIsNotARepositoryNameIsNeverAskedOf() {
    exchange.mountFrom("other/../lib");

    assertThat(done(rule().decide()).uri()).isEqualTo(PLAIN_UPLOAD);
    assertThat(exchange.asked).isEmpty();
  }

  @Test
  void aNamespaceTheStoreDoesNotHoldIsNotCreatedForAnUnauthorisedMount() {
    rules.store.answerWith("namespaceKnown", false);

    assertThat(done(rule().decide()).uri()).isEqualTo(PLAIN_UPLOAD);
    assertThat(rules.store.methods()).containsExactly("namespaceKnown");
    assertThat(exchange.asked).isEmpty();
  }

  @Test
  void somethingThatIsNotADigestIsLeftToTheRegistryToRefuse() {
    exchange.digest("sha256:../../x");

    assertThat(done(rule().decide())).isSameAs(Admission.FORWARD);
    assertThat(rules.store.calls()).isEmpty();
  }

  @Test
  void aMountThatDoesNotFitBecomesAPlainUploadAndItsRequestIdIsReleased() {
    knownSize(500);
    rules.store.answerWith("reserveBlobs", new Reservation(0, new Denial("acme", 900, 0, 1000, 500)));
    MountQuota rule = rule();

    Admission admission = done(rule.decide());
    rule.ended(0, 0, 0);

    assertThat(admission.uri()).isEqualTo(PLAIN_UPLOAD);
    assertThat(admission.refused()).isFalse();
    assertThat(rules.store.calls("recordRejection")).isEmpty();
    assertThat(rules.store.calls("intendCommit")).isEmpty();
    assertThat(rules.store.only("release").args()).containsExactly("acme/app", requestId(), -1L);
  }

  @Test
  void aReadOnlyRegistryRefusesTheMount() {
    rules.readOnly();

    Admission admission = done(rule().decide());

    assertThat(admission.refusal().status()).isEqualTo(403);
    assertThat(rules.store.methods()).containsExactly("recordRejection");
  }

  @Test
  void anUnreachableStoreRefusesTheMountWhenFailingClosed() {
    rules.store.fail("sizeOf");

    assertThat(done(rule().decide()).refusal().status()).isEqualTo(503);
  }

  @Test
  void anUnreachableStoreLetsTheMountThroughUnmeteredWhenFailingOpen() {
    rules.failOpen().store.fail("namespaceKnown");
    MountQuota rule = rule();

    assertThat(done(rule.decide())).isSameAs(Admission.FORWARD);
    assertThat(done(rule.answered(201, FakeExchange.headers("Docker-Content-Digest", DIGEST)))).isSameAs(Answer.RELAY);

    assertThat(rules.store.methods()).containsExactly("namespaceKnown");
  }

  @Test
  void aCommitIntentTheStoreCannotRecordRefusesWhenFailingClosedAndTheReservationGoes() {
    knownSize(500);
    rules.store.fail("intendCommit");
    MountQuota rule = rule();

    assertThat(done(rule.decide()).refusal().status()).isEqualTo(503);
    rule.ended(503, 0, 0);

    assertThat(rules.store.only("release").args()).containsExactly("acme/app", requestId(), -1L);
  }

  @Test
  void the201CommitsTheReservedSizeAndReleasesNothing() {
    knownSize(500);
    MountQuota rule = rule();
    done(rule.decide());

    Answer answer = done(rule.answered(201, FakeExchange.headers("Docker-Content-Digest", DIGEST)));
    rule.ended(201, 0, 0);

    assertThat(answer.refused()).isFalse();
    assertThat(rules.store.only("commitBlob").args()).containsExactly("acme/app", requestId(), null, new Blob(DIGEST, 500), "alice");
    assertThat(rules.store.calls("release")).isEmpty();
    assertThat(rules.store.only("requestEnded").args()).containsExactly(requestId());
  }

  @Test
  void aCommitIsNotFollowedByAReleaseEvenWithoutAnIntent() {
    knownSize(500);
    rules.failOpen().store.fail("intendCommit");
    MountQuota rule = rule();
    done(rule.decide());

    done(rule.answered(201, FakeExchange.headers()));
    rule.ended(201, 0, 0);

    assertThat(rules.store.methods()).containsSubsequence("commitBlob", "requestEnded").doesNotContain("release");
  }

  @Test
  void aDigestTheRegistryNamesOtherwiseIsChargedAsAsked() {
    knownSize(500);
    MountQuota rule = rule();
    done(rule.decide());

    done(rule.answered(201, FakeExchange.headers("Docker-Content-Digest", FakeExchange.digest('e'))));

    assertThat(rules.store.only("commitBlob").arg(3)).isEqualTo(new Blob(DIGEST, 500));
  }

  @Test
  void theCommitCarriesSoftLimitWarnings() {
    knownSize(500);
    rules.store.answerWith("commitBlob", new Commit(true, 500, List.of(
        new ScopeState("acme", 950, 0, new Limits(1000, 900, -1, 3600)))));
    MountQuota rule = rule();
    done(rule.decide());

    Answer answer = done(rule.answered(201, FakeExchange.headers()));

    assertThat(answer.warnings()).singleElement().asString().contains("acme is at 95%");
  }

  @Test
  void aCommitTheStoreCannotRecordStillRelaysTheRegistrysAnswer() {
    knownSize(500);
    rules.store.fail("commitBlob");
    MountQuota rule = rule();
    done(rule.decide());

    assertThat(done(rule.answered(201, FakeExchange.headers()))).isSameAs(Answer.RELAY);
    rule.ended(201, 0, 0);

    // The intent stays, and lapses: RegistryIntents charges what the registry holds.
    assertThat(rules.store.calls("release")).isEmpty();
  }

  @Test
  void a202FallbackReleasesTheReservationAndRecordsThePlainSession() {
    knownSize(500);
    MountQuota rule = rule();
    done(rule.decide());

    Answer answer = done(rule.answered(202, FakeExchange.headers("Location", "/v2/acme/app/blobs/uploads/u9")));
    rule.ended(202, 0, 0);

    assertThat(answer).isSameAs(Answer.RELAY);
    assertThat(rules.store.methods()).containsSubsequence("release", "openSession");
    assertThat(rules.store.only("release").args()).containsExactly("acme/app", requestId(), -1L);
    assertThat(rules.store.only("openSession").args()).containsExactly("acme/app", "session:u9");
    assertThat(rules.store.calls("commitBlob")).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(ints = {400, 401, 404, 500, 503})
  void anyOtherAnswerReleasesTheReservationOnce(int status) {
    knownSize(500);
    MountQuota rule = rule();
    done(rule.decide());

    assertThat(done(rule.answered(status, FakeExchange.headers()))).isSameAs(Answer.RELAY);
    rule.ended(status, 0, 0);

    assertThat(rules.store.only("release").args()).containsExactly("acme/app", requestId(), -1L);
    assertThat(rules.store.calls("commitBlob")).isEmpty();
  }

  @Test
  void aMountLeftWithoutAnAnswerKeepsItsReservationForTheIntentToSettle() {
    knownSize(500);
    MountQuota rule = rule();
    done(rule.decide());

    rule.ended(0, 0, 0);

    assertThat(rules.store.calls("release")).isEmpty();
    assertThat(rules.store.calls("commitBlob")).isEmpty();
    assertThat(rules.store.only("requestEnded").args()).containsExactly(requestId());
  }

  @Test
  void aClientGoneWhileTheSizeIsLearnedReservesNothing() {
    Promise<Long> size = rules.store.hold("sizeOf");
    MountQuota rule = rule();
    Future<Admission> decision = rule.decide();

    rule.ended(0, 0, 0);
    size.complete(500L);

    assertThat(done(decision).refused()).isFalse();
    assertThat(rules.store.calls("reserveBlobs")).isEmpty();
    assertThat(rules.store.calls("release")).isEmpty();
  }

  @Test
  void aClientGoneWhileTheReservationIsAskedReleasesItsIdSoALateGrantHoldsNothing() {
    knownSize(500);
    Promise<Reservation> reservation = rules.store.hold("reserveBlobs");
    MountQuota rule = rule();
    Future<Admission> decision = rule.decide();

    rule.ended(0, 0, 0);
    assertThat(rules.store.only("release").args()).containsExactly("acme/app", requestId(), -1L);
    reservation.complete(Reservation.RETIRED);

    assertThat(done(decision).uri()).isEqualTo(PLAIN_UPLOAD);
    assertThat(rules.store.calls("intendCommit")).isEmpty();
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', textBlock = """
      /v2/a/blobs/uploads/?mount=sha256:1&from=b         | /v2/a/blobs/uploads/
      /v2/a/blobs/uploads/?from=b%2Fc&mount=sha256:1     | /v2/a/blobs/uploads/
      /v2/a/blobs/uploads/?mount=sha256:1&x=1&from=b     | /v2/a/blobs/uploads/?x=1
      /v2/a/blobs/uploads/?mount=sha256:1                | /v2/a/blobs/uploads/
      /v2/a/blobs/uploads/                               | /v2/a/blobs/uploads/
      /v2/a/blobs/uploads/?%6Dount=sha256:1&x=2          | /v2/a/blobs/uploads/?x=2
      /v2/a/blobs/uploads/?%zzount=sha256:1&x=3          | /v2/a/blobs/uploads/?x=3
      """)
  void aMountWhoseSizeIsUnknownBecomesAPlainUploadStart(String uri, String expected) {
    assertThat(MountQuota.withoutMount(uri)).isEqualTo(expected);
  }
}
