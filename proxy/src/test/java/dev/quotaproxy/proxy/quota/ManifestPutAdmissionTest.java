package dev.quotaproxy.proxy.quota;

import static dev.quotaproxy.proxy.quota.RuleFixture.done;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.oci.ManifestParser;
import dev.quotaproxy.oci.MediaTypes;
import dev.quotaproxy.proxy.quota.ExchangeQuota.Admission;
import dev.quotaproxy.proxy.route.OciError;
import io.vertx.core.Future;
import org.junit.jupiter.api.Test;

/**
 * {@link ManifestPutQuota#admit()}: the body is read whole before anything depends on a scope, within the
 * registry's 4 MiB limit, the process's manifest buffer and a deadline; what it took of the buffer is
 * given back when the exchange ends.
 */
class ManifestPutAdmissionTest {
  private final RuleFixture rules = new RuleFixture();
  private final FakeExchange exchange = ManifestPutQuotaTest.manifestPut(MediaTypes.OCI_IMAGE_MANIFEST,
      ManifestPutQuotaTest.image(100, 2000));

  private ManifestPutQuota rule() {
    return new ManifestPutQuota(rules.policy(), exchange);
  }

  @Test
  void theBodyIsReadWithinTheRegistrysLimitAndForwardedAsRead() {
    ManifestPutQuota rule = rule();

    Admission admission = done(rule.admit());

    assertThat(rule.guardsBody()).isTrue();
    assertThat(admission.body()).isSameAs(done(exchange.body));
    assertThat(exchange.bodyReads).containsExactly(ManifestParser.MAX_MANIFEST_BYTES);
    assertThat(rules.store.calls()).as("nothing that depends on a scope").isEmpty();
  }

  @Test
  void theBufferTakenForTheBodyIsGivenBackWhenTheExchangeEnds() {
    ManifestPutQuota rule = rule();

    done(rule.admit());
    assertThat(rules.pushes.buffered()).isEqualTo(exchange.contentLength);
    rule.ended(0, 0, 0);

    assertThat(rules.pushes.buffered()).isZero();
  }

  @Test
  void aBodyOfUnknownLengthTakesTheWholeLimitOfTheBuffer() {
    exchange.contentLength = -1;
    ManifestPutQuota rule = rule();

    done(rule.admit());
    assertThat(rules.pushes.buffered()).isEqualTo(ManifestParser.MAX_MANIFEST_BYTES);
    rule.ended(0, 0, 0);

    assertThat(rules.pushes.buffered()).isZero();
  }

  @Test
  void aDeclaredLengthOverTheLimitIsRefusedWithoutReadingOrBuffering() {
    exchange.contentLength = ManifestParser.MAX_MANIFEST_BYTES + 1L;

    OciError refusal = done(rule().admit()).refusal();

    assertThat(refusal.status()).isEqualTo(400);
    assertThat(refusal.code()).isEqualTo("MANIFEST_INVALID");
    assertThat(exchange.bodyReads).isEmpty();
    assertThat(rules.pushes.buffered()).isZero();
  }

  @Test
  void aFullBufferAsksThePushToWaitItsTurn() {
    assertThat(rules.pushes.tryBuffer(RuleFixture.MANIFEST_BUFFER - 10)).isTrue();

    OciError refusal = done(rule().admit()).refusal();

    assertThat(refusal.status()).isEqualTo(503);
    assertThat(refusal.retryAfterSeconds()).isPositive();
    assertThat(exchange.bodyReads).isEmpty();
    assertThat(rules.pushes.buffered()).isEqualTo(RuleFixture.MANIFEST_BUFFER - 10);
  }

  @Test
  void aBodyThatGrowsPastTheLimitIsRefusedAsInvalid() {
    exchange.body = Future.failedFuture(new ExchangeView.BodyTooLargeException(ManifestParser.MAX_MANIFEST_BYTES));

    assertThat(done(rule().admit()).refusal().code()).isEqualTo("MANIFEST_INVALID");
  }

  @Test
  void aBodyThatDoesNotArriveInTimeIsRefused408() {
    exchange.body = Future.failedFuture(new ExchangeView.BodyTimeoutException("the body did not arrive within 30s"));

    OciError refusal = done(rule().admit()).refusal();

    assertThat(refusal.status()).isEqualTo(408);
    assertThat(refusal.message()).startsWith("the manifest did not arrive within 30s");
  }

  @Test
  void aBodyTheClientBrokeOffFailsTheAdmission() {
    exchange.body = Future.failedFuture(new IllegalStateException("connection reset"));

    assertThat(rule().admit().failed()).isTrue();
  }
}
