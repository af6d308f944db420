package dev.quotaproxy.proxy.quota;

import static dev.quotaproxy.proxy.quota.RuleFixture.CHUNK_RESERVATION;
import static dev.quotaproxy.proxy.quota.RuleFixture.done;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.metering.QuotaStore.Denial;
import dev.quotaproxy.metering.QuotaStore.Reservation;
import dev.quotaproxy.proxy.quota.ExchangeQuota.Answer;
import dev.quotaproxy.proxy.quota.FakeExchange.Asked;
import dev.quotaproxy.proxy.route.OciError;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.streams.ReadStream;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link BlobUploadQuota} for bodies without Content-Length (chunked, as podman sends): reserved in
 * increments as they stream; a chunk that does not fit is closed where it stands and cancelled at the
 * registry, a closing PUT is refused outright.
 */
class ChunkedUploadQuotaTest {
  private static final String LOCATION = BlobUploadQuotaTest.SESSION_URI + "?_state=next";
  /** A refusal by a scope whose committed usage is at its limit: final, never waited out. */
  private static final Denial FULL = new Denial("acme", 1_000_000, CHUNK_RESERVATION, 1_000_000, 10, CHUNK_RESERVATION + 1000);

  private final RuleFixture rules = new RuleFixture();
  private final Source source = new Source();
  private final List<Buffer> passed = new ArrayList<>();
  private final List<OciError> refused = new ArrayList<>();
  private boolean bodyEnded;
  private FakeExchange exchange = chunked(BlobUploadQuotaTest.chunk());

  private static FakeExchange chunked(FakeExchange exchange) {
    exchange.contentLength = -1;
    exchange.chunked = true;
    return exchange;
  }

  /** A rule decided on, its body wrapped and read by the test. */
  private BlobUploadQuota streaming() {
    BlobUploadQuota rule = new BlobUploadQuota(rules.policy(), exchange);
    done(rule.admit());
    done(rule.decide());
    ReadStream<Buffer> body = rule.body(source, refused::add);
    body.handler(passed::add);
    body.endHandler(v -> bodyEnded = true);
    return rule;
  }

  private String requestId() {
    return (String) rules.store.calls("reserveBytes").get(0).arg(1);
  }

  @Test
  void aBodyWithContentLengthIsPassedAsItIs() {
    exchange = BlobUploadQuotaTest.chunk();
    BlobUploadQuota rule = new BlobUploadQuota(rules.policy(), exchange);

    assertThat(rule.body(source, refused::add)).isSameAs(source);
  }

  @Test
  void aChunkedBodyIsReservedInIncrementsAheadOfThePiecesItLetsThrough() {
    streaming();

    source.emit(10);
    source.emit(10);

    assertThat(rules.store.only("reserveBytes").args())
        .containsExactly("acme/app", requestId(), BlobUploadQuotaTest.SESSION, 10L, CHUNK_RESERVATION);
    assertThat(passed).hasSize(2);
  }

  @Test
  void aChunkCutOffAtTheLimitEndsEarlyAndIsCancelledAtTheRegistry() {
    rules.store.answerOnce("reserveBytes", new Reservation(CHUNK_RESERVATION, null));
    rules.store.answerOnce("reserveBytes", new Reservation(0, FULL));
    BlobUploadQuota rule = streaming();

    source.emit((int) CHUNK_RESERVATION);
    source.emit(10);
    exchange.sentUpstream = CHUNK_RESERVATION;
    Answer answer = done(rule.answered(202, FakeExchange.headers("Location", LOCATION)));

    assertThat(passed).hasSize(1);
    assertThat(bodyEnded).as("the chunk is closed where it stands").isTrue();
    assertThat(refused).isEmpty();
    assertThat(exchange.asked).containsExactly(new Asked(HttpMethod.DELETE, LOCATION));
    assertThat(rules.store.calls("release")).extracting(call -> call.arg(1)).containsExactly(requestId(), BlobUploadQuotaTest.SESSION);
    assertThat(rules.store.calls("settle")).isEmpty();
    assertThat(answer.refusal().status()).isEqualTo(403);
    // What had arrived of the upload: the session's 1000 earlier bytes, what passed, and the piece refused.
    assertThat(answer.refusal().detail()).containsEntry("received", 1000 + CHUNK_RESERVATION + 10);
    assertThat(rules.store.calls("recordRejection")).hasSize(1);
  }

  @Test
  void aCutOffChunkTheRegistryWillNotCancelKeepsWhatWentUpForTheSession() {
    rules.store.answerWith("reserveBytes", new Reservation(0, FULL));
    exchange.upstream(HttpMethod.DELETE, LOCATION, 500);
    BlobUploadQuota rule = streaming();

    source.emit(10);
    exchange.sentUpstream = 0;
    done(rule.answered(202, FakeExchange.headers("Location", LOCATION)));

    assertThat(rules.store.only("settle").args()).containsExactly("acme/app", requestId(), BlobUploadQuotaTest.SESSION, 0L, false);
    assertThat(rules.store.calls("release")).isEmpty();
  }

  @Test
  void aChunkWhoseClientLeftIsCancelledAtTheRegistry() {
    BlobUploadQuota rule = streaming();
    source.emit(10);
    exchange.clientGone = true;
    exchange.sentUpstream = 10;

    Answer answer = done(rule.answered(202, FakeExchange.headers("Location", LOCATION)));

    assertThat(answer).isSameAs(Answer.RELAY);
    assertThat(exchange.asked).containsExactly(new Asked(HttpMethod.DELETE, LOCATION));
    assertThat(rules.store.calls("release")).extracting(call -> call.arg(1)).containsExactly(requestId(), BlobUploadQuotaTest.SESSION);
  }

  @Test
  void aClosingPutThatDoesNotFitIsRefusedNeverClosedEarly() {
    exchange = chunked(BlobUploadQuotaTest.close());
    rules.store.answerWith("reserveBytes", new Reservation(0, FULL));
    streaming();

    source.emit(10);

    assertThat(refused).singleElement().extracting(OciError::status).isEqualTo(403);
    assertThat(bodyEnded).as("a close ended early would commit what the registry has").isFalse();
    assertThat(passed).isEmpty();
  }

  @Test
  void anUnreachableStoreCutsTheBodyOffWhenFailingClosed() {
    rules.store.fail("reserveBytes");
    streaming();

    source.emit(10);

    assertThat(refused).singleElement().extracting(OciError::status).isEqualTo(503);
    assertThat(passed).isEmpty();
  }

  @Test
  void anUnreachableStoreLetsTheRestThroughUnmeteredWhenFailingOpen() {
    rules.failOpen().store.fail("reserveBytes");
    streaming();

    source.emit(10);
    source.emit((int) CHUNK_RESERVATION + 1);

    assertThat(refused).isEmpty();
    assertThat(passed).hasSize(2);
    assertThat(rules.store.calls("reserveBytes")).hasSize(1);
  }

  /** A request body the test feeds piece by piece. */
  private static final class Source implements ReadStream<Buffer> {
    private Handler<Buffer> handler;
    private boolean paused;

    void emit(int bytes) {
      assertThat(paused).as("no piece is delivered while paused").isFalse();
      handler.handle(Buffer.buffer(new byte[bytes]));
    }

    @Override
    public ReadStream<Buffer> handler(Handler<Buffer> handler) { this.handler = handler; return this; }
    @Override
    public ReadStream<Buffer> endHandler(Handler<Void> endHandler) { return this; }
    @Override
    public ReadStream<Buffer> exceptionHandler(Handler<Throwable> handler) { return this; }
    @Override
    public ReadStream<Buffer> pause() { paused = true; return this; }
    @Override
    public ReadStream<Buffer> resume() { paused = false; return this; }
    @Override
    public ReadStream<Buffer> fetch(long amount) { paused = false; return this; }
  }
}
