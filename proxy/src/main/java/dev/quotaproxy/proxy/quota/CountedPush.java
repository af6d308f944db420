package dev.quotaproxy.proxy.quota;

import dev.quotaproxy.proxy.route.OciError;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.ReadStream;
import java.util.function.Consumer;

/** A push's rules, counted in its client's requests in flight until the exchange ends. */
final class CountedPush implements ExchangeQuota {
  private final ExchangeQuota rules;
  private final Runnable leave;

  CountedPush(ExchangeQuota rules, Runnable leave) {
    this.rules = rules;
    this.leave = leave;
  }

  @Override
  public Future<Admission> admit() {
    return rules.admit();
  }

  @Override
  public boolean guardsBody() {
    return rules.guardsBody();
  }

  @Override
  public Future<Admission> decide() {
    return rules.decide();
  }

  @Override
  public ReadStream<Buffer> body(ReadStream<Buffer> body, Consumer<OciError> refuse) {
    return rules.body(body, refuse);
  }

  @Override
  public Future<Answer> answered(int status, MultiMap headers) {
    return rules.answered(status, headers);
  }

  @Override
  public void ended(int status, long bytesIn, long bytesOut) {
    try {
      rules.ended(status, bytesIn, bytesOut);
    } finally {
      leave.run();
    }
  }
}
