package dev.quotaproxy.proxy.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.HttpMethod;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Vert.x's own per-request HTTP meters are off unless asked for (admin.vertx-http-metrics): the proxy's
 * RequestMeters count the same requests for less. Its other meters (pools, JVM) stay either way.
 */
class VertxHttpMetersTest {

  private static String scrapeAfterOneRequest(boolean httpRequestMeters) throws Exception {
    ProxyMetrics metrics = new ProxyMetrics();
    Vertx vertx = metrics.vertx(new VertxOptions(), httpRequestMeters);
    try {
      var server = vertx.createHttpServer().requestHandler(request -> request.response().end("ok")).listen(0, "127.0.0.1")
          .await(10, TimeUnit.SECONDS);
      var client = vertx.createHttpClient();
      int status = client.request(HttpMethod.GET, server.actualPort(), "127.0.0.1", "/")
          .compose(request -> request.send().compose(response -> response.body().map(body -> response.statusCode())))
          .await(10, TimeUnit.SECONDS);
      assertThat(status).isEqualTo(200);
      return metrics.registry().scrape();
    } finally {
      vertx.close().await(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void offByDefaultTheRequestMetersAreNotKeptButTheOthersAre() throws Exception {
    String scrape = scrapeAfterOneRequest(false);
    assertThat(scrape).doesNotContain("vertx_http_server_requests_total", "vertx_http_client_requests_total");
    assertThat(scrape).contains("jvm_memory_used_bytes");
  }

  @Test
  void askedForTheyAreKept() throws Exception {
    String scrape = scrapeAfterOneRequest(true);
    assertThat(scrape).contains("vertx_http_server_requests_total", "vertx_http_client_requests_total");
  }
}
