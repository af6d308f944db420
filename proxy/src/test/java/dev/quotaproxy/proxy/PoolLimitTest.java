package dev.quotaproxy.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.proxy.support.TestProxy;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** When every upstream connection is busy and the wait queue is full, the client is told to retry. */
class PoolLimitTest {
  private final Vertx vertx = Vertx.vertx();

  @AfterEach
  void stop() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  @Test
  void aFullPoolWithNoRoomToWaitIs503WithRetryAfter() throws Exception {
    Promise<HttpServerRequest> held = Promise.promise();
    int upstreamPort = vertx.createHttpServer()
        .requestHandler(held::tryComplete)
        .listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS).actualPort();
    TestProxy proxy = TestProxy.start(vertx, "http://127.0.0.1:" + upstreamPort, "--upstream.pool-size", "1", "--upstream.max-waiting",
        "0");
    HttpClient client = vertx.createHttpClient();

    Future<HttpClientResponse> first = client.request(HttpMethod.GET, proxy.port(), "127.0.0.1", "/v2/a/manifests/one")
        .compose(HttpClientRequest::send);
    HttpServerRequest onTheOnlyConnection = held.future().await(10, TimeUnit.SECONDS);

    HttpClientResponse refused = client.request(HttpMethod.GET, proxy.port(), "127.0.0.1", "/v2/a/manifests/two")
        .compose(request -> request.send().compose(response -> response.body().map(response))).await(10, TimeUnit.SECONDS);
    Buffer body = refused.body().result();

    assertThat(refused.statusCode()).isEqualTo(503);
    assertThat(refused.getHeader("Retry-After")).isEqualTo("1");
    assertThat(body.toJsonObject().getJsonArray("errors").getJsonObject(0).getString("message"))
        .isEqualTo("too many requests waiting for a connection to the upstream registry");

    onTheOnlyConnection.response().end("done");
    assertThat(first.await(10, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
  }
}
