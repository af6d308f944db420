package dev.quotaproxy.metering.support;

import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real Redis and a Vert.x for one test class, flushed before each test; with {@link #withStore()}, also a
 * store on it opened for each test (its scripts loaded) and closed after, since a store remembers which
 * namespaces it registered and that memory must not outlive the flush. Register it as a static field:
 * {@code @RegisterExtension static final RedisStoreExtension redis = RedisStoreExtension.withStore();}
 */
public final class RedisStoreExtension implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback, AfterEachCallback {
  private final boolean opensStore;
  private TestRedis redis;
  private Vertx vertx;
  private StoreOnRedis stores;

  private RedisStoreExtension(boolean opensStore) {
    this.opensStore = opensStore;
  }

  /** Redis flushed before each test, nothing opened on it. */
  public static RedisStoreExtension flushedPerTest() {
    return new RedisStoreExtension(false);
  }

  /** Redis flushed, and a store with 8 connections and a 10-minute reservation TTL opened, for each test. */
  public static RedisStoreExtension withStore() {
    return new RedisStoreExtension(true);
  }

  @Override
  public void beforeAll(ExtensionContext context) {
    redis = TestRedis.start();
    vertx = Vertx.vertx();
  }

  @Override
  public void afterAll(ExtensionContext context) throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
    redis.close();
  }

  @Override
  public void beforeEach(ExtensionContext context) throws Exception {
    redis.flushAll();
    if (opensStore) {
      stores = StoreOnRedis.open(vertx, redis.url(), 8, Duration.ofMinutes(10));
      stores.client().loadScripts().await(10, TimeUnit.SECONDS);
    }
  }

  @Override
  public void afterEach(ExtensionContext context) throws Exception {
    if (stores != null) {
      stores.close().await(10, TimeUnit.SECONDS);
      stores = null;
    }
  }

  public TestRedis redis() {
    return redis;
  }

  public Vertx vertx() {
    return vertx;
  }

  /** This test's store (only {@link #withStore()}). */
  public StoreOnRedis stores() {
    if (stores == null) {
      throw new IllegalStateException("no store: register RedisStoreExtension.withStore()");
    }
    return stores;
  }
}
