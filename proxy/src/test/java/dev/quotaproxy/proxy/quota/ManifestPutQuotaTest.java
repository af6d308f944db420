package dev.quotaproxy.proxy.quota;

import static dev.quotaproxy.proxy.quota.RuleFixture.done;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.metering.QuotaStore.Denial;
import dev.quotaproxy.metering.QuotaStore.Rejection;
import dev.quotaproxy.metering.QuotaStore.Reservation;
import dev.quotaproxy.metering.QuotaStore.SizeConflict;
import dev.quotaproxy.metering.QuotaStore.Traffic;
import dev.quotaproxy.oci.Blob;
import dev.quotaproxy.oci.ManifestParser;
import dev.quotaproxy.oci.MediaTypes;
import dev.quotaproxy.proxy.quota.ExchangeQuota.Admission;
import dev.quotaproxy.proxy.quota.ExchangeQuota.Answer;
import dev.quotaproxy.proxy.quota.FakeExchange.Asked;
import dev.quotaproxy.proxy.route.OciError;
import dev.quotaproxy.proxy.route.OciOperation;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A manifest PUT: its body read within the limits, then its own bytes and every reference absent from a
 * scope reserved at sizes the proxy verified, committed on 201 and released otherwise. Decisions that need
 * its body (the read itself) are in {@link ManifestPutAdmissionTest}.
 */
class ManifestPutQuotaTest {
  static final String CONFIG = FakeExchange.digest('1');
  static final String LAYER = FakeExchange.digest('2');

  private final RuleFixture rules = new RuleFixture();
  private final FakeExchange exchange = manifestPut(MediaTypes.OCI_IMAGE_MANIFEST, image(100, 2000));
  private final Blob manifest = ManifestParser.parse(exchange.contentType, done(exchange.body).getBytes()).blob();

  static String image(long configSize, long layerSize) {
    return """
        {"schemaVersion":2,"mediaType":"%s",
         "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},
         "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}"""
        .formatted(MediaTypes.OCI_IMAGE_MANIFEST, CONFIG, configSize, LAYER, layerSize);
  }

  static FakeExchange manifestPut(String contentType, String body) {
    FakeExchange put = FakeExchange.of(OciOperation.MANIFEST_PUT, "acme/app", "/v2/acme/app/manifests/v1").reference("v1");
    put.contentType = contentType;
    put.body = Future.succeededFuture(Buffer.buffer(body));
    put.contentLength = Buffer.buffer(body).length();
    return put;
  }

  /** The references' sizes as the namespace's digest index knows them. */
  private void knownSizes(long configSize, long layerSize) {
    rules.store.answerWith("sizesOf", Map.of(CONFIG, configSize, LAYER, layerSize));
  }

  /** A rule whose body was read, then decided on. */
  private ManifestPutQuota rule() {
    ManifestPutQuota rule = new ManifestPutQuota(rules.policy(), exchange);
    assertThat(done(rule.admit()).body()).isNotNull();
    return rule;
  }

  private String requestId() {
    return (String) rules.store.only("reserveBlobs").arg(1);
  }

  @Test
  void itsOwnBytesAndEveryReferenceAreReservedAtTheirKnownSizesAndTheCommitIntended() {
    knownSizes(100, 2000);

    assertThat(done(rule().decide())).isSameAs(Admission.FORWARD);

    List<Blob> references = List.of(new Blob(CONFIG, 100), new Blob(LAYER, 2000));
    assertThat(rules.store.methods()).containsExactly("sizesOf", "reserveBlobs", "intendManifest");
    assertThat(rules.store.only("sizesOf").args()).containsExactly("acme", List.of(CONFIG, LAYER));
    assertThat(rules.store.only("reserveBlobs").args())
        .containsExactly("acme/app", requestId(), List.of(manifest, references.get(0), references.get(1)));
    assertThat(rules.store.only("intendManifest").args()).containsExactly("acme/app", requestId(), manifest, references);
    assertThat(exchange.asked).isEmpty();
  }

  @Test
  void aReferenceTheNamespaceDoesNotKnowIsSizedByTheRegistryAndLeftOutWhenAbsent() {
    exchange.upstream(HttpMethod.HEAD, "/v2/acme/app/blobs/" + CONFIG, 200, "Content-Length", "100");

    assertThat(done(rule().decide())).isSameAs(Admission.FORWARD);

    assertThat(exchange.asked).containsExactlyInAnyOrder(
        new Asked(HttpMethod.HEAD, "/v2/acme/app/blobs/" + CONFIG), new Asked(HttpMethod.HEAD, "/v2/acme/app/blobs/" + LAYER));
    assertThat(rules.store.only("reserveBlobs").arg(2)).isEqualTo(List.of(manifest, new Blob(CONFIG, 100)));
  }

  @Test
  void anIndexsReferencesAreSizedAsManifests() {
    String child = FakeExchange.digest('3');
    String index = """
        {"schemaVersion":2,"mediaType":"%s","manifests":[{"mediaType":"%s","digest":"%s","size":500}]}"""
        .formatted(MediaTypes.OCI_IMAGE_INDEX, MediaTypes.OCI_IMAGE_MANIFEST, child);
    FakeExchange put = manifestPut(MediaTypes.OCI_IMAGE_INDEX, index);
    put.upstream(HttpMethod.HEAD, "/v2/acme/app/manifests/" + child, 200, "Content-Length", "500");
    ManifestPutQuota rule = new ManifestPutQuota(rules.policy(), put);
    done(rule.admit());

    assertThat(done(rule.decide())).isSameAs(Admission.FORWARD);
    assertThat(put.asked).containsExactly(new Asked(HttpMethod.HEAD, "/v2/acme/app/manifests/" + child));
    assertThat((List<Object>) rules.store.only("reserveBlobs").arg(2)).contains(new Blob(child, 500));
  }

  @Test
  void aDescriptorSizeThatContradictsTheKnownSizeIsRefusedNamingTheDigest() {
    knownSizes(100, 1999);

    OciError refusal = done(rule().decide()).refusal();

    assertThat(refusal.status()).isEqualTo(400);
    assertThat(refusal.code()).isEqualTo("MANIFEST_INVALID");
    assertThat(refusal.message()).contains(LAYER).contains("2000").contains("1999");
    assertThat(rules.store.calls("reserveBlobs")).isEmpty();
  }

  @Test
  void aDescriptorSizeThatContradictsTheRegistrysIsRefused() {
    exchange.upstream(HttpMethod.HEAD, "/v2/acme/app/blobs/" + CONFIG, 200, "Content-Length", "101");

    assertThat(done(rule().decide()).refusal().code()).isEqualTo("MANIFEST_INVALID");
    assertThat(rules.store.calls("reserveBlobs")).isEmpty();
  }

  @Test
  void aSizeConflictTheStoreFindsIsRefused() {
    knownSizes(100, 2000);
    rules.store.answerWith("reserveBlobs", new Reservation(0, null, new SizeConflict(LAYER, 3000, 2000), false));

    assertThat(done(rule().decide()).refusal().message()).contains(LAYER);
    assertThat(rules.store.calls("intendManifest")).isEmpty();
  }

  @Test
  void aManifestOverAHardLimitIsRefusedRecordedAndItsIdReleasedAtTheEnd() {
    knownSizes(100, 2000);
    Denial full = new Denial("acme/app", 999_000, 0, 1_000_000, 2100);
    rules.store.answerWith("reserveBlobs", new Reservation(0, full));
    ManifestPutQuota rule = rule();

    Admission admission = done(rule.decide());
    rule.ended(403, exchange.contentLength, 0);

    assertThat(admission.refusal().status()).isEqualTo(403);
    assertThat(rules.store.only("recordRejection").args()).containsExactly("acme/app", "alice", Rejection.of(full));
    assertThat(rules.store.calls("intendManifest")).isEmpty();
    assertThat(rules.store.only("release").args()).containsExactly("acme/app", requestId(), -1L);
    assertThat(rules.store.only("meter").arg(2)).isEqualTo(new Traffic(exchange.contentLength, 0, 0, 0));
  }

  @Test
  void aReservationThatArrivesRetiredIsAStoreFailure() {
    rules.store.answerWith("reserveBlobs", Reservation.RETIRED);

    assertThat(done(rule().decide()).refusal().status()).isEqualTo(503);
  }

  @Test
  void aMalformedManifestIsRefusedBeforeTheStoreIsAsked() {
    FakeExchange put = manifestPut(MediaTypes.OCI_IMAGE_MANIFEST, "{\"layers\": [");
    ManifestPutQuota rule = new ManifestPutQuota(rules.policy(), put);
    done(rule.admit());

    OciError refusal = done(rule.decide()).refusal();

    assertThat(refusal.code()).isEqualTo("MANIFEST_INVALID");
    assertThat(rules.store.calls()).isEmpty();
  }

  @Test
  void aTypeThatIsNotUnderstoodCountsItsOwnBytesOnly() {
    FakeExchange put = manifestPut("application/vnd.acme.thing+json", image(100, 2000));
    ManifestPutQuota rule = new ManifestPutQuota(rules.policy(), put);
    done(rule.admit());

    assertThat(done(rule.decide())).isSameAs(Admission.FORWARD);

    assertThat(rules.store.methods()).containsExactly("reserveBlobs", "intendManifest");
    assertThat((List<Object>) rules.store.only("reserveBlobs").arg(2)).singleElement().extracting(b -> ((Blob) b).size())
        .isEqualTo(put.contentLength);
  }

  @Test
  void aReadOnlyRegistryRefusesTheManifest() {
    rules.readOnly();

    assertThat(done(rule().decide()).refusal().status()).isEqualTo(403);
    assertThat(rules.store.methods()).containsExactly("recordRejection");
  }

  @ParameterizedTest
  @ValueSource(strings = {"sizesOf", "reserveBlobs", "intendManifest"})
  void anUnreachableStoreRefusesWhenFailingClosed(String failing) {
    rules.store.fail(failing);

    assertThat(done(rule().decide()).refusal().status()).isEqualTo(503);
  }

  @ParameterizedTest
  @ValueSource(strings = {"sizesOf", "reserveBlobs", "intendManifest"})
  void anUnreachableStoreLetsTheManifestThroughWhenFailingOpen(String failing) {
    rules.failOpen().store.fail(failing);

    assertThat(done(rule().decide())).isSameAs(Admission.FORWARD);
  }

  @Test
  void the201CommitsTheManifestAndItsReferencesAndCountsAPush() {
    knownSizes(100, 2000);
    ManifestPutQuota rule = rule();
    done(rule.decide());

    Answer answer = done(rule.answered(201, FakeExchange.headers("Docker-Content-Digest", manifest.digest())));
    rule.ended(201, exchange.contentLength, 0);

    assertThat(answer.refused()).isFalse();
    assertThat(rules.store.only("commitManifest").args()).containsExactly(
        "acme/app", requestId(), manifest, List.of(new Blob(CONFIG, 100), new Blob(LAYER, 2000)), "alice");
    assertThat(rules.store.calls("release")).isEmpty();
    assertThat(rules.store.only("meter").arg(2)).isEqualTo(new Traffic(exchange.contentLength, 0, 1, 0));
    assertThat(rules.store.only("requestEnded").args()).containsExactly(requestId());
  }

  @Test
  void aCommitIsNotFollowedByAReleaseEvenWithoutAnIntent() {
    rules.failOpen().store.fail("intendManifest");
    ManifestPutQuota rule = rule();
    done(rule.decide());

    done(rule.answered(201, FakeExchange.headers()));
    rule.ended(201, exchange.contentLength, 0);

    assertThat(rules.store.methods()).containsSubsequence("commitManifest", "requestEnded").doesNotContain("release");
  }

  @Test
  void aCommitTheStoreCannotRecordStillRelaysThe201AndLeavesTheIntent() {
    rules.store.fail("commitManifest");
    ManifestPutQuota rule = rule();
    done(rule.decide());

    assertThat(done(rule.answered(201, FakeExchange.headers()))).isSameAs(Answer.RELAY);
    rule.ended(201, exchange.contentLength, 0);

    assertThat(rules.store.calls("release")).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(ints = {400, 401, 404, 500})
  void anyOtherAnswerReleasesTheReservationOnceAndCountsNoPush(int status) {
    ManifestPutQuota rule = rule();
    done(rule.decide());

    assertThat(done(rule.answered(status, FakeExchange.headers()))).isSameAs(Answer.RELAY);
    rule.ended(status, exchange.contentLength, 0);

    assertThat(rules.store.only("release").args()).containsExactly("acme/app", requestId(), -1L);
    assertThat(rules.store.calls("commitManifest")).isEmpty();
    assertThat(rules.store.only("meter").arg(2)).isEqualTo(new Traffic(exchange.contentLength, 0, 0, 0));
  }

  @Test
  void anAnswerBeforeTheManifestWasDecidedOnWritesNothing() {
    ManifestPutQuota rule = rule();

    done(rule.answered(401, FakeExchange.headers()));
    rule.ended(401, 0, 0);

    assertThat(rules.store.methods()).containsExactly("requestEnded");
  }

  @Test
  void aManifestLeftWithoutAnAnswerKeepsItsReservationForTheIntentToSettle() {
    ManifestPutQuota rule = rule();
    done(rule.decide());

    rule.ended(0, exchange.contentLength, 0);

    assertThat(rules.store.calls("release")).isEmpty();
    assertThat(rules.store.calls("commitManifest")).isEmpty();
    assertThat(rules.store.only("requestEnded").args()).containsExactly(requestId());
  }

  @Test
  void aClientGoneWhileTheReferencesAreSizedReservesNothing() {
    Promise<Map<String, Long>> sizes = rules.store.hold("sizesOf");
    ManifestPutQuota rule = rule();
    Future<Admission> decision = rule.decide();

    rule.ended(0, exchange.contentLength, 0);
    sizes.complete(Map.of(CONFIG, 100L, LAYER, 2000L));

    assertThat(done(decision).refused()).isFalse();
    assertThat(rules.store.calls("reserveBlobs")).isEmpty();
    assertThat(rules.store.calls("release")).isEmpty();
  }
}
