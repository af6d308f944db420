package dev.quotaproxy.proxy.support;

import dev.quotaproxy.oci.Scopes;
import dev.quotaproxy.metering.QuotaStore;
import dev.quotaproxy.metering.QuotaStore.ScopeState;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisConnection;
import io.vertx.redis.client.Request;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Waits for a scope's state in the store to satisfy a condition, woken by the store's own writes:
 * Redis keyspace notifications on every key of the scope's namespace. Each notification reads the
 * scope again; the wait ends the moment the condition holds, or fails at the timeout with the last
 * state read. No polling: when nothing is written, nothing is read.
 *
 * <p>For what the proxy settles after a client is gone (a reservation given back when an idle
 * request is cut), which the client cannot see happen.
 */
public final class ScopeWatch implements AutoCloseable {
  private final Redis client;
  private final RedisConnection subscriber;
  private final QuotaStore store;
  private final AtomicReference<Runnable> onWrite = new AtomicReference<>(() -> {});

  private ScopeWatch(Redis client, RedisConnection subscriber, QuotaStore store) {
    this.client = client;
    this.subscriber = subscriber;
    this.store = store;
  }

  /** Subscribes to the writes of the namespace's keys ({@code qp:{namespace}:*}); turns keyspace notifications on. */
  public static ScopeWatch start(Vertx vertx, String redisUrl, QuotaStore store, String namespace) throws Exception {
    Redis client = Redis.createClient(vertx, redisUrl);
    client.send(Request.cmd(Command.CONFIG).arg("SET").arg("notify-keyspace-events").arg("KA")).await(10, TimeUnit.SECONDS);
    RedisConnection subscriber = client.connect().await(10, TimeUnit.SECONDS);
    ScopeWatch watch = new ScopeWatch(client, subscriber, store);
    subscriber.handler(message -> watch.onWrite.get().run());
    subscriber.send(Request.cmd(Command.PSUBSCRIBE).arg("__keyspace@*__:qp:{" + Scopes.namespace(namespace) + "}:*"))
        .await(10, TimeUnit.SECONDS);
    return watch;
  }

  /** The scope's state once it satisfies the condition (at once if it does now); fails after the timeout. */
  public ScopeState await(String scope, Predicate<ScopeState> condition, String what, Duration timeout) throws Exception {
    Promise<ScopeState> met = Promise.promise();
    AtomicReference<ScopeState> last = new AtomicReference<>();
    Runnable check = () -> store.scope(scope).onSuccess(state -> {
      last.set(state);
      if (condition.test(state)) {
        met.tryComplete(state);
      }
    });
    onWrite.set(check);
    try {
      check.run();
      return met.future().await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw new AssertionError("scope " + scope + ": not " + what + " within " + timeout.toMillis() + " ms; last read " + last.get(), e);
    } finally {
      onWrite.set(() -> {});
    }
  }

  /**
   * Watches the scope for the whole window and fails at the first state that breaks the condition
   * (read at the start, on every write to the namespace, and once more at the end): for what must not
   * happen, such as a reservation given back while the registry still holds the bytes. {@code what}
   * describes the condition when it breaks, read then.
   */
  public void holdsFor(String scope, Predicate<ScopeState> condition, Supplier<String> what, Duration window) throws Exception {
    Promise<ScopeState> broken = Promise.promise();
    Runnable check = () -> store.scope(scope).onSuccess(state -> {
      if (!condition.test(state)) {
        broken.tryComplete(state);
      }
    });
    onWrite.set(check);
    try {
      check.run();
      ScopeState breaking;
      try {
        breaking = broken.future().await(window.toMillis(), TimeUnit.MILLISECONDS);
      } catch (TimeoutException held) {
        breaking = null;
      }
      if (breaking == null) {
        ScopeState last = store.scope(scope).await(10, TimeUnit.SECONDS);
        breaking = condition.test(last) ? null : last;
      }
      if (breaking != null) {
        throw new AssertionError("scope " + scope + ": not " + what.get() + ": " + breaking);
      }
    } finally {
      onWrite.set(() -> {});
    }
  }

  /** Waits for the scope to hold no reservation. */
  public ScopeState awaitNothingReserved(String scope, Duration timeout) throws Exception {
    return await(scope, state -> state.reserved() == 0, "free of reservations", timeout);
  }

  @Override
  public void close() {
    subscriber.close();
    client.close();
  }
}
