package dev.quotaproxy.proxy.quota;

import dev.quotaproxy.proxy.oci.OciError;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.ReadStream;
import java.util.List;
import java.util.function.Consumer;

/**
 * What quota enforcement does around one exchange, at the four moments the proxy gives it: before the
 * body moves, while it streams, when the registry answers, and when the exchange ends. The default
 * of each is to do nothing, so an operation implements only the moments it charges at.
 */
public interface ExchangeQuota {
  ExchangeQuota NONE = new ExchangeQuota() {};

  /** Decides before a byte of the body is forwarded, and before 100-continue is answered. */
  default Future<Admission> admit() {
    return Future.succeededFuture(Admission.FORWARD);
  }

  /** The request body on its way upstream; a wrapper may refuse part-way through {@code refuse}. */
  default ReadStream<Buffer> body(ReadStream<Buffer> body, Consumer<OciError> refuse) {
    return body;
  }

  /**
   * The registry's answer head has arrived and is not yet relayed: commit or release what the
   * request reserved. Returns {@code Warning} header values to add to the response.
   */
  default Future<List<String>> answered(int status, MultiMap headers) {
    return Future.succeededFuture(List.of());
  }

  /**
   * The exchange is over, answered or not. {@code status} is what the client got (0 for nothing).
   * Releases what an unanswered request still holds, and meters the traffic.
   */
  default void ended(int status, long bytesIn, long bytesOut) {}

  /**
   * The outcome of {@link #admit()}: forward the request as it came, forward it with a body already
   * read (a manifest) or to another URI (a mount the proxy turns into a plain upload), or refuse it.
   */
  record Admission(OciError refusal, Buffer body, String uri) {
    public static final Admission FORWARD = new Admission(null, null, null);

    public static Admission refuse(OciError error) {
      return new Admission(error, null, null);
    }

    public static Admission forwardBody(Buffer body) {
      return new Admission(null, body, null);
    }

    public static Admission forwardTo(String uri) {
      return new Admission(null, null, uri);
    }

    public boolean refused() {
      return refusal != null;
    }
  }
}
