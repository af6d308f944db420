package dev.quotaproxy.proxy.quota;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.metering.QuotaStore.Denial;
import dev.quotaproxy.metering.QuotaStore.Reservation;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.ReadStream;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The body moves only as far as it has reserved; a refused increment stops it before the piece passes. */
class ReservingReadStreamTest {
  private final SourceStream source = new SourceStream();
  private final List<long[]> asked = new ArrayList<>();
  private final List<Promise<Reservation>> answers = new ArrayList<>();
  private final List<Buffer> passed = new ArrayList<>();
  private Reservation denied;
  private boolean ended;

  private ReservingReadStream stream(long increment) {
    ReservingReadStream stream = new ReservingReadStream(source, increment,
        (min, max) -> {
          asked.add(new long[] {min, max});
          Promise<Reservation> answer = Promise.promise();
          answers.add(answer);
          return answer.future();
        },
        refusal -> denied = refusal,
        failure -> {});
    stream.handler(passed::add);
    stream.endHandler(v -> ended = true);
    return stream;
  }

  @Test
  void reservesAnIncrementAheadAndPassesPiecesItCovers() {
    ReservingReadStream stream = stream(100);

    source.emit(40);
    assertThat(asked).containsExactly(new long[] {40, 100});
    assertThat(passed).isEmpty();
    assertThat(source.paused).isTrue();

    answers.get(0).complete(new Reservation(100, null));
    assertThat(passed).hasSize(1);
    assertThat(source.paused).isFalse();

    source.emit(60);
    assertThat(asked).hasSize(1);
    assertThat(stream.forwarded()).isEqualTo(100);
    assertThat(stream.reserved()).isEqualTo(100);
  }

  @Test
  void asksForAtLeastThePieceWhenItIsLargerThanTheIncrement() {
    ReservingReadStream stream = stream(10);
    source.emit(30);
    answers.get(0).complete(new Reservation(30, null));
    source.emit(5);

    assertThat(asked).containsExactly(new long[] {30, 30}, new long[] {5, 10});
    assertThat(stream.forwarded()).isEqualTo(30);
  }

  @Test
  void aPartialGrantThatCoversThePieceIsEnough() {
    ReservingReadStream stream = stream(100);
    source.emit(40);
    answers.get(0).complete(new Reservation(45, null));
    source.emit(5);
    source.emit(1);

    assertThat(stream.forwarded()).isEqualTo(45);
    assertThat(asked).hasSize(2);
    assertThat(asked.get(1)).containsExactly(1, 100);
  }

  @Test
  void aRefusedIncrementStopsTheBodyBeforeThePiecePasses() {
    ReservingReadStream stream = stream(100);
    source.emit(100);
    answers.get(0).complete(new Reservation(100, null));
    source.emit(50);
    answers.get(1).complete(new Reservation(0, new Denial("acme", 100, 0, 120, 50)));

    assertThat(denied.denial().scope()).isEqualTo("acme");
    assertThat(stream.forwarded()).isEqualTo(100);
    assertThat(passed).hasSize(1);
    assertThat(source.paused).as("nothing more is read").isTrue();
  }

  @Test
  void aPauseFromDownstreamOutlastsAGrant() {
    ReservingReadStream stream = stream(100);
    source.emit(10);
    stream.pause();
    answers.get(0).complete(new Reservation(100, null));

    assertThat(passed).hasSize(1);
    assertThat(source.paused).isTrue();
    stream.resume();
    assertThat(source.paused).isFalse();
  }

  @Test
  void theEndIsReportedAfterEveryPiece() {
    ReservingReadStream stream = stream(100);
    source.emit(30);
    answers.get(0).complete(new Reservation(100, null));
    source.end();

    assertThat(ended).isTrue();
    assertThat(stream.ended()).isTrue();
    assertThat(stream.reserved() - stream.forwarded()).as("reserved ahead and not needed").isEqualTo(70);
  }

  @Test
  void endingEarlyDropsThePieceThatWaitedAndEndsDownstreamAtOnce() {
    ReservingReadStream stream = stream(100);
    source.emit(100);
    answers.get(0).complete(new Reservation(100, null));
    source.emit(50);

    stream.endEarly();

    assertThat(ended).isTrue();
    assertThat(stream.forwarded()).isEqualTo(100);
    assertThat(stream.pendingBytes()).isZero();
    assertThat(passed).hasSize(1);
    assertThat(source.paused).as("the rest of the source is left unread").isTrue();
  }

  /** A body source driven by the test, honouring pause like a Vert.x request does. */
  private static final class SourceStream implements ReadStream<Buffer> {
    boolean paused;
    private Handler<Buffer> handler;
    private Handler<Void> endHandler;

    void emit(int bytes) {
      assertThat(paused).as("no piece is delivered while paused").isFalse();
      handler.handle(Buffer.buffer(new byte[bytes]));
    }

    void end() {
      endHandler.handle(null);
    }

    @Override
    public ReadStream<Buffer> handler(Handler<Buffer> handler) { this.handler = handler; return this; }
    @Override
    public ReadStream<Buffer> endHandler(Handler<Void> endHandler) { this.endHandler = endHandler; return this; }
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
