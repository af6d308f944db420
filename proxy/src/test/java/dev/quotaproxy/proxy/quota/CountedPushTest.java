package dev.quotaproxy.proxy.quota;

import static dev.quotaproxy.proxy.quota.RuleFixture.done;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.quotaproxy.proxy.route.OciError;
import dev.quotaproxy.proxy.route.OciOperation;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.ReadStream;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A push counted in its client's requests in flight: every moment is the rules', and the count is given
 * back exactly once, when the exchange ends, whatever the rules do then. Over the count, the push is
 * refused 429 before anything else.
 */
class CountedPushTest {
  private final List<String> seen = new ArrayList<>();
  private int left;

  /** Rules that note each moment they are given. */
  private final ExchangeQuota rules = new ExchangeQuota() {
    @Override
    public Future<Admission> admit() { seen.add("admit"); return Future.succeededFuture(Admission.forwardTo("/x")); }
    @Override
    public boolean guardsBody() { seen.add("guardsBody"); return true; }
    @Override
    public Future<Admission> decide() { seen.add("decide"); return Future.succeededFuture(Admission.FORWARD); }
    @Override
    public ReadStream<Buffer> body(ReadStream<Buffer> body, Consumer<OciError> refuse) { seen.add("body"); return null; }
    @Override
    public Future<Answer> answered(int status, MultiMap headers) {
      seen.add("answered " + status);
      return Future.succeededFuture(Answer.RELAY);
    }
    @Override
    public void ended(int status, long bytesIn, long bytesOut) { seen.add("ended " + status + " " + bytesIn + " " + bytesOut); }
  };

  @Test
  void everyMomentIsTheRulesAndTheCountIsGivenBackWhenTheExchangeEnds() {
    CountedPush push = new CountedPush(rules, () -> left++);

    assertThat(done(push.admit()).uri()).isEqualTo("/x");
    assertThat(push.guardsBody()).isTrue();
    done(push.decide());
    push.body(null, error -> {});
    done(push.answered(201, FakeExchange.headers()));
    assertThat(left).isZero();
    push.ended(201, 10, 20);

    assertThat(seen).containsExactly("admit", "guardsBody", "decide", "body", "answered 201", "ended 201 10 20");
    assertThat(left).isEqualTo(1);
  }

  @Test
  void theCountIsGivenBackEvenWhenTheRulesFailToEnd() {
    CountedPush push = new CountedPush(new ExchangeQuota() {
      @Override
      public void ended(int status, long bytesIn, long bytesOut) {
        throw new IllegalStateException("broken");
      }
    }, () -> left++);

    assertThatThrownBy(() -> push.ended(0, 0, 0)).hasMessage("broken");
    assertThat(left).isEqualTo(1);
  }

  @ParameterizedTest
  @EnumSource(value = OciOperation.class, names = {"UPLOAD_START", "UPLOAD_CHUNK", "UPLOAD_COMPLETE", "UPLOAD_MONOLITHIC", "BLOB_MOUNT",
      "MANIFEST_PUT"})
  void theEnforcerCountsEveryPushAndRefusesOneOverTheClientsLimit(OciOperation operation) {
    RuleFixture fixture = new RuleFixture();
    PushLimits pushes = new PushLimits(1, RuleFixture.MANIFEST_BUFFER);
    QuotaEnforcer enforcer = new QuotaEnforcer(null, fixture.store, fixture.system, RuleFixture.quota(false, 1), pushes);
    FakeExchange exchange = FakeExchange.of(operation, "acme/app", "/v2/acme/app/blobs/uploads/");

    ExchangeQuota first = enforcer.forExchange(exchange);
    ExchangeQuota second = enforcer.forExchange(exchange);

    assertThat(first).isInstanceOf(CountedPush.class);
    assertThat(pushes.inFlight(exchange.clientAddress)).isEqualTo(1);
    OciError refusal = done(second.admit()).refusal();
    assertThat(refusal.status()).isEqualTo(429);
    assertThat(refusal.retryAfterSeconds()).isPositive();
    second.ended(429, 0, 0);
    assertThat(pushes.inFlight(exchange.clientAddress)).as("a refused push was never counted in").isEqualTo(1);
    first.ended(0, 0, 0);
    assertThat(pushes.inFlight(exchange.clientAddress)).isZero();
    assertThat(fixture.store.calls("recordRejection")).isEmpty();
  }

  @ParameterizedTest
  @EnumSource(value = OciOperation.class, names = {"BLOB_GET", "MANIFEST_GET", "BLOB_DELETE", "MANIFEST_DELETE", "UPLOAD_CANCEL"})
  void pullsAndDeletesAreNotCounted(OciOperation operation) {
    RuleFixture fixture = new RuleFixture();
    PushLimits pushes = new PushLimits(1, RuleFixture.MANIFEST_BUFFER);
    QuotaEnforcer enforcer = new QuotaEnforcer(null, fixture.store, fixture.system, RuleFixture.quota(false, 1), pushes);
    FakeExchange exchange = FakeExchange.of(operation, "acme/app", "/v2/acme/app/blobs/x");

    assertThat(enforcer.forExchange(exchange)).isNotInstanceOf(CountedPush.class);
    assertThat(enforcer.forExchange(exchange)).isNotInstanceOf(CountedPush.class);
    assertThat(pushes.inFlight(exchange.clientAddress)).isZero();
  }
}
