package dev.quotaproxy.proxy.quota;

import static dev.quotaproxy.proxy.quota.RuleFixture.done;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.proxy.quota.ExchangeQuota.Admission;
import dev.quotaproxy.proxy.quota.ExchangeQuota.Answer;
import dev.quotaproxy.proxy.route.OciOperation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Deletes are never refused, not even read-only: the unlink is intended before it goes, recorded on the
 * registry's 2xx, and the intent ended when the registry does not delete; a cancelled upload gives back
 * its session's reservation.
 */
class DeleteQuotaTest {
  private static final String DIGEST = FakeExchange.digest('f');

  private final RuleFixture rules = new RuleFixture();
  private FakeExchange exchange = FakeExchange.of(OciOperation.BLOB_DELETE, "acme/app", "/v2/acme/app/blobs/" + DIGEST).digest(DIGEST);

  private DeleteQuota rule() {
    return new DeleteQuota(rules.policy(), exchange);
  }

  private static FakeExchange manifestDelete(String reference) {
    return FakeExchange.of(OciOperation.MANIFEST_DELETE, "acme/app", "/v2/acme/app/manifests/" + reference).reference(reference);
  }

  private String requestId() {
    return (String) rules.store.only("requestEnded").arg(0);
  }

  @Test
  void aBlobDeleteIsIntendedThenDroppedUnderTheSameRequestOn202() {
    DeleteQuota rule = rule();

    assertThat(done(rule.admit())).isSameAs(Admission.FORWARD);
    assertThat(done(rule.answered(202, FakeExchange.headers()))).isSameAs(Answer.RELAY);
    rule.ended(202, 0, 0);

    assertThat(rules.store.methods()).containsExactly("intendDelete", "dropBlob", "requestEnded");
    assertThat(rules.store.only("intendDelete").args()).containsExactly("acme/app", requestId(), DIGEST, false);
    assertThat(rules.store.only("dropBlob").args()).containsExactly("acme/app", DIGEST, "alice", requestId());
  }

  @Test
  void aManifestDeletedByDigestIsIntendedThenDroppedOn202() {
    String digest = FakeExchange.digest('9');
    exchange = manifestDelete(digest);
    DeleteQuota rule = rule();

    done(rule.admit());
    done(rule.answered(202, FakeExchange.headers()));
    rule.ended(202, 0, 0);

    assertThat(rules.store.only("intendDelete").args()).containsExactly("acme/app", requestId(), digest, true);
    assertThat(rules.store.only("dropManifest").args()).containsExactly("acme/app", digest, "alice", requestId());
  }

  @Test
  void aTagDeleteChangesNoUsage() {
    exchange = manifestDelete("v1");
    DeleteQuota rule = rule();

    done(rule.admit());
    done(rule.answered(202, FakeExchange.headers()));
    rule.ended(202, 0, 0);

    assertThat(rules.store.methods()).containsExactly("requestEnded");
  }

  @Test
  void deletesPassWhileTheRegistryIsReadOnlyOrItsUsageUnknown() {
    rules.readOnly().systemUsageUnknown();
    DeleteQuota rule = rule();

    assertThat(done(rule.admit())).isSameAs(Admission.FORWARD);
    assertThat(done(rule.decide())).isSameAs(Admission.FORWARD);
    done(rule.answered(202, FakeExchange.headers()));

    assertThat(rules.store.calls("dropBlob")).hasSize(1);
    assertThat(rules.store.calls("recordRejection")).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(ints = {401, 404, 405, 500})
  void aDeleteTheRegistryDidNotDoEndsItsIntentAndDropsNothing(int status) {
    DeleteQuota rule = rule();

    done(rule.admit());
    assertThat(done(rule.answered(status, FakeExchange.headers()))).isSameAs(Answer.RELAY);
    rule.ended(status, 0, 0);

    assertThat(rules.store.calls("dropBlob")).isEmpty();
    assertThat(rules.store.only("release").args()).containsExactly("acme/app", requestId(), -1L);
  }

  /**
   * Redis could not record the intent, but the proxy holds its own copy: the drop names the request, so
   * that recording it ends that copy too (and a drop that fails leaves it to be settled with the registry).
   */
  @Test
  void anIntentTheStoreCannotRecordDoesNotRefuseTheDeleteAndTheDropStillNamesTheRequest() {
    rules.store.fail("intendDelete");
    DeleteQuota rule = rule();

    assertThat(done(rule.admit())).isSameAs(Admission.FORWARD);
    done(rule.answered(202, FakeExchange.headers()));
    rule.ended(202, 0, 0);

    assertThat(rules.store.only("dropBlob").args()).containsExactly("acme/app", DIGEST, "alice", requestId());
  }

  @Test
  void aDeleteTheRegistryRefusesAfterAnUnrecordedIntentStillEndsTheIntent() {
    rules.store.fail("intendDelete");
    DeleteQuota rule = rule();

    done(rule.admit());
    done(rule.answered(404, FakeExchange.headers()));
    rule.ended(404, 0, 0);

    assertThat(rules.store.only("release").args()).containsExactly("acme/app", requestId(), -1L);
  }

  @Test
  void aDropTheStoreCannotRecordStillRelaysTheRegistrysAnswerAndLeavesTheIntent() {
    rules.store.fail("dropBlob");
    DeleteQuota rule = rule();

    done(rule.admit());
    assertThat(done(rule.answered(202, FakeExchange.headers()))).isSameAs(Answer.RELAY);
    rule.ended(202, 0, 0);

    assertThat(rules.store.calls("release")).isEmpty();
    assertThat(rules.store.calls("requestEnded")).hasSize(1);
  }

  @Test
  void aBlobDeleteWithoutAValidDigestIntendsNothing() {
    exchange = FakeExchange.of(OciOperation.BLOB_DELETE, "acme/app", "/v2/acme/app/blobs/x").digest("x");
    DeleteQuota rule = rule();

    done(rule.admit());
    done(rule.answered(400, FakeExchange.headers()));

    assertThat(rules.store.calls("intendDelete")).isEmpty();
    assertThat(rules.store.calls("dropBlob")).isEmpty();
  }

  @Test
  void aCancelledUploadGivesBackItsSessionsReservation() {
    exchange = FakeExchange.of(OciOperation.UPLOAD_CANCEL, "acme/app", "/v2/acme/app/blobs/uploads/u3").uploadId("u3");
    DeleteQuota rule = rule();

    done(rule.admit());
    done(rule.answered(204, FakeExchange.headers()));

    assertThat(rules.store.methods()).containsExactly("release");
    assertThat(rules.store.only("release").args()).containsExactly("acme/app", "session:u3", -1L);
  }

  @Test
  void aCancelTheRegistryRefusedKeepsTheSessionsReservation() {
    exchange = FakeExchange.of(OciOperation.UPLOAD_CANCEL, "acme/app", "/v2/acme/app/blobs/uploads/u3").uploadId("u3");
    DeleteQuota rule = rule();

    done(rule.admit());
    done(rule.answered(404, FakeExchange.headers()));

    assertThat(rules.store.calls("release")).isEmpty();
  }
}
