package dev.quotaproxy.metering.support;

import dev.quotaproxy.metering.EmbeddedRedis;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.TimeUnit;

/**
 * A real Redis for one test class ({@link EmbeddedRedis}), with a client of its own for setting up and
 * inspecting state behind the code under test: {@link #flushAll()} between tests, raw commands.
 */
public final class TestRedis implements AutoCloseable {
  private final EmbeddedRedis server;
  private final Vertx vertx = Vertx.vertx();
  private final Redis admin;

  private TestRedis(EmbeddedRedis server) {
    this.server = server;
    this.admin = Redis.createClient(vertx, server.url());
  }

  public static TestRedis start() {
    try {
      return new TestRedis(EmbeddedRedis.start());
    } catch (IOException e) {
      throw new UncheckedIOException("could not start Redis for the tests", e);
    }
  }

  public String url() {
    return server.url();
  }

  /** Sends one command and waits for its reply (tests run off the event loop, so waiting is fine). */
  public Response command(Request request) {
    try {
      return admin.send(request).await(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("Redis command failed: " + request.command(), e);
    }
  }

  public void flushAll() {
    command(Request.cmd(Command.FLUSHALL));
  }

  @Override
  public void close() throws IOException {
    try {
      vertx.close().await(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      // Stopping the server below is what matters.
    }
    server.close();
  }
}
