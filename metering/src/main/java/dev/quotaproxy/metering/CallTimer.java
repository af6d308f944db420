package dev.quotaproxy.metering;

import io.vertx.core.Future;
import java.util.function.Supplier;

/**
 * Times the store's calls to Redis, each by its operation's name. The store is timed where every call
 * passes; what records the time (the proxy's metrics) is given to it, so metering knows no metrics
 * registry.
 */
public interface CallTimer {
  /** Times nothing: for stores whose calls nobody reads the latency of. */
  CallTimer UNTIMED = new CallTimer() {
    @Override
    public <T> Future<T> time(String operation, Supplier<Future<T>> call) {
      return call.get();
    }
  };

  /** Makes the call and times it until it completes; a call that throws instead is not timed. */
  <T> Future<T> time(String operation, Supplier<Future<T>> call);
}
