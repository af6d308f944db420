package dev.quotaproxy.proxy.support;

import dev.quotaproxy.metering.QuotaKeys;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisConnection;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Waits until the proxy is quiet in the given namespaces: no request holds a live reservation, so every
 * request that ended has released, settled or committed what it reserved (what an upload session holds
 * may stay: that is the session's, not a request's). Woken by the store's own writes (Redis keyspace
 * notifications on {@code qp:{namespace}:*}), as {@link ScopeWatch} is: nothing is read while nothing
 * is written.
 *
 * <p>Reservation ids are the store's ({@code QuotaEnforcer}): {@code request:<uuid>} for one request,
 * {@code session:<upload id>} for an upload session; a released or settled id stays as a tombstone
 * ({@code {"retired":"1"}}), which holds nothing.
 */
public final class ProxyQuiet implements AutoCloseable {
  private final Vertx vertx;
  private final Redis client;
  private final RedisConnection subscriber;
  private final List<String> namespaces;
  private final AtomicReference<Runnable> onWrite = new AtomicReference<>(() -> {});

  private ProxyQuiet(Vertx vertx, Redis client, RedisConnection subscriber, List<String> namespaces) {
    this.vertx = vertx;
    this.client = client;
    this.subscriber = subscriber;
    this.namespaces = List.copyOf(namespaces);
  }

  public static ProxyQuiet start(Vertx vertx, String redisUrl, List<String> namespaces) throws Exception {
    Redis client = Redis.createClient(vertx, redisUrl);
    client.send(Request.cmd(Command.CONFIG).arg("SET").arg("notify-keyspace-events").arg("KA")).await(10, TimeUnit.SECONDS);
    RedisConnection subscriber = client.connect().await(10, TimeUnit.SECONDS);
    ProxyQuiet quiet = new ProxyQuiet(vertx, client, subscriber, namespaces);
    subscriber.handler(message -> quiet.onWrite.get().run());
    for (String namespace : namespaces) {
      subscriber.send(Request.cmd(Command.PSUBSCRIBE).arg("__keyspace@*__:qp:{" + namespace + "}:*")).await(10, TimeUnit.SECONDS);
    }
    return quiet;
  }

  /** The live request reservations now, by id (empty when quiet). */
  public Future<TreeMap<String, String>> liveRequests() {
    return live("request:");
  }

  /** The live upload session reservations now, by id. */
  public Future<TreeMap<String, String>> liveSessions() {
    return live("session:");
  }

  private Future<TreeMap<String, String>> live(String prefix) {
    List<Future<Response>> reads = new ArrayList<>();
    for (String namespace : namespaces) {
      reads.add(client.send(Request.cmd(Command.HGETALL).arg(QuotaKeys.of(namespace).reservations())));
    }
    return Future.all(reads).map(all -> {
      TreeMap<String, String> live = new TreeMap<>();
      for (int i = 0; i < reads.size(); i++) {
        Response hash = all.resultAt(i);
        forEachEntry(hash, (id, json) -> {
          if (id.startsWith(prefix) && !retired(json)) {
            live.put(id, json);
          }
        });
      }
      return live;
    });
  }

  /**
   * Returns once no request holds a live reservation; fails after the timeout naming what is still held. A read
   * that fails is tried again 100 ms later: with no write to wake it, a failed first read would otherwise wait
   * out the whole timeout having learned nothing.
   */
  public void await(Duration timeout) throws Exception {
    Promise<Void> quiet = Promise.promise();
    AtomicReference<TreeMap<String, String>> last = new AtomicReference<>();
    AtomicReference<Throwable> lastFailure = new AtomicReference<>();
    AtomicReference<Runnable> check = new AtomicReference<>();
    check.set(() -> liveRequests().onComplete(read -> {
      if (read.failed()) {
        lastFailure.set(read.cause());
        if (!quiet.future().isComplete()) {
          vertx.setTimer(100, id -> check.get().run());
        }
        return;
      }
      last.set(read.result());
      if (read.result().isEmpty()) {
        quiet.tryComplete();
      }
    }));
    onWrite.set(() -> check.get().run());
    try {
      check.get().run();
      quiet.future().await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      quiet.tryFail("timed out");
      throw new AssertionError("the proxy was not quiet within " + timeout.toMillis() + " ms: requests still holding reservations "
          + last.get() + (lastFailure.get() == null ? "" : "; the last read failed: " + lastFailure.get()), e);
    } finally {
      onWrite.set(() -> {});
    }
  }

  private static boolean retired(String json) {
    try {
      return new JsonObject(json).containsKey("retired");
    } catch (RuntimeException notJson) {
      return false;
    }
  }

  private interface EntryConsumer {
    void accept(String key, String value);
  }

  private static void forEachEntry(Response hash, EntryConsumer consumer) {
    if (hash == null) {
      return;
    }
    if (hash.isMap()) {
      for (String key : hash.getKeys()) {
        consumer.accept(key, hash.get(key).toString());
      }
    } else {
      for (int i = 0; i + 1 < hash.size(); i += 2) {
        consumer.accept(hash.get(i).toString(), hash.get(i + 1).toString());
      }
    }
  }

  @Override
  public void close() {
    subscriber.close();
    client.close();
  }
}
