package dev.quotaproxy.proxy.quota;

import dev.quotaproxy.proxy.route.OciError;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.ReadStream;
import java.util.List;
import java.util.function.Consumer;

/**
 * What quota enforcement does around one exchange, at the moments the proxy gives it. The default of
 * each is to do nothing, so an operation implements only the moments it charges at.
 *
 * <p>The order, for a push with a body: {@link #admit()} (nothing has gone upstream; for a body sent
 * without {@code Expect: 100-continue}, its first byte has arrived), then the head goes to the registry
 * with {@code Expect: 100-continue}, then {@link #decide()} once the registry asks for the body, which it
 * does only after its own authentication; then {@link #body}, {@link #answered} and {@link #ended}. A
 * registry that answers before asking for the body (a 401, say) is relayed and {@link #decide()} never
 * runs. For a request without a body, {@link #decide()} runs right before it is forwarded.
 *
 * <p>So a refusal that carries a scope's figures, and any reservation, belong in {@link #decide()} or
 * {@link #answered}: {@link #admit()} may refuse only for reasons that say nothing about any scope.
 */
public interface ExchangeQuota {
  ExchangeQuota NONE = new ExchangeQuota() {};

  /**
   * Before anything of the request goes upstream: limits that protect the proxy itself, and what must be
   * learned first (reading a manifest body, asking the registry how much of an upload it holds).
   */
  default Future<Admission> admit() {
    return Future.succeededFuture(Admission.FORWARD);
  }

  /**
   * Whether the request's body is guarded: it is taken from the client only once the proxy is ready to
   * forward it (first byte within a deadline), and its head goes upstream with {@code Expect: 100-continue}
   * so that {@link #decide()} follows the registry's authentication.
   */
  default boolean guardsBody() {
    return false;
  }

  /** The registry asked for the body, or a request without one is about to go: reserve, or refuse. */
  default Future<Admission> decide() {
    return Future.succeededFuture(Admission.FORWARD);
  }

  /** The request body on its way upstream; a wrapper may refuse part-way through {@code refuse}. */
  default ReadStream<Buffer> body(ReadStream<Buffer> body, Consumer<OciError> refuse) {
    return body;
  }

  /**
   * The registry's answer head has arrived and is not yet relayed: commit or release what the request
   * reserved, or refuse the answer (a pull over its egress limit) in its place.
   */
  default Future<Answer> answered(int status, MultiMap headers) {
    return Future.succeededFuture(Answer.RELAY);
  }

  /**
   * The exchange is over, answered or not. {@code status} is what the client got (0 for nothing).
   * Releases what the request still holds, and meters the traffic.
   */
  default void ended(int status, long bytesIn, long bytesOut) {}

  /**
   * The outcome of {@link #admit()} or {@link #decide()}: forward the request as it came, forward it with
   * a body already read (a manifest) or to another URI (a mount the proxy turns into a plain upload),
   * answer with what the registry already answered to a request the proxy made for it, or refuse it.
   */
  record Admission(OciError refusal, Buffer body, String uri, UpstreamAnswer answer) {
    public static final Admission FORWARD = new Admission(null, null, null, null);

    public static Admission refuse(OciError error) {
      return new Admission(error, null, null, null);
    }

    public static Admission forwardBody(Buffer body) {
      return new Admission(null, body, null, null);
    }

    public static Admission forwardTo(String uri) {
      return new Admission(null, null, uri, null);
    }

    /** The registry refused a request the proxy made on this one's behalf (with its credentials): that is the answer. */
    public static Admission answerWith(UpstreamAnswer answer) {
      return new Admission(null, null, null, answer);
    }

    public boolean refused() {
      return refusal != null;
    }

    public boolean answered() {
      return answer != null;
    }
  }

  /** What to do with the registry's answer: relay it with these warnings, or refuse in its place. */
  record Answer(List<String> warnings, OciError refusal) {
    public static final Answer RELAY = new Answer(List.of(), null);

    public static Answer relay(List<String> warnings) {
      return warnings.isEmpty() ? RELAY : new Answer(warnings, null);
    }

    public static Answer refuse(OciError refusal) {
      return new Answer(List.of(), refusal);
    }

    public boolean refused() {
      return refusal != null;
    }
  }

  /** A registry answer to a request the proxy made itself (its body only when small: an error's). */
  record UpstreamAnswer(int status, MultiMap headers, Buffer body) {
    public boolean succeeded() {
      return status / 100 == 2;
    }

    public String header(String name) {
      return headers.get(name);
    }
  }
}
