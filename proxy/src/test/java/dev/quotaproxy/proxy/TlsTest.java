package dev.quotaproxy.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.proxy.support.TestCertificates;
import dev.quotaproxy.proxy.support.TestProxy;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** HTTPS on the listener from PEM files, and an https upstream verified against a configured CA. */
class TlsTest {
  @TempDir static Path dir;
  static Vertx vertx;
  static TestCertificates certificates;
  static int upstreamPort;
  static HttpClient httpsClient;

  @BeforeAll
  static void startUpstream() throws Exception {
    vertx = Vertx.vertx();
    certificates = TestCertificates.create(dir);
    HttpServerOptions tls = new HttpServerOptions().setSsl(true).setKeyCertOptions(new PemKeyCertOptions()
        .setCertPath(certificates.serverCertificate().toString()).setKeyPath(certificates.serverKey().toString()));
    // Like distribution: builds its upload Location from X-Forwarded-Proto and its own host.
    upstreamPort = vertx.createHttpServer(tls).requestHandler(request -> request.response()
        .setStatusCode(202)
        .putHeader("Location", "https://localhost:" + upstreamPort + "/v2/a/blobs/uploads/u")
        .putHeader("X-Seen-Proto", String.valueOf(request.getHeader("X-Forwarded-Proto")))
        .end("upstream over tls"))
        // All loopback addresses, so that 127.0.0.2 reaches it under a name its certificate does not carry.
        .listen(0, "0.0.0.0").await(10, TimeUnit.SECONDS).actualPort();
    httpsClient = vertx.createHttpClient(new HttpClientOptions().setSsl(true).setVerifyHost(true)
        .setTrustOptions(new PemTrustOptions().addCertPath(certificates.caCertificate().toString())));
  }

  @AfterAll
  static void stop() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  @Test
  void servesHttpsAndReachesAnHttpsUpstreamThroughItsCa() throws Exception {
    TestProxy proxy = TestProxy.start(vertx, "https://localhost:" + upstreamPort,
        "--upstream.ca", certificates.caCertificate().toString(),
        "--listen.tls.cert", certificates.serverCertificate().toString(),
        "--listen.tls.key", certificates.serverKey().toString());

    Reply reply = call(httpsClient, HttpMethod.POST, proxy.port(), "/v2/a/blobs/uploads/");
    HttpClientResponse response = reply.response();
    Buffer body = reply.body();

    assertThat(response.statusCode()).isEqualTo(202);
    assertThat(body.toString()).isEqualTo("upstream over tls");
    assertThat(response.getHeader("X-Seen-Proto")).isEqualTo("https");
    assertThat(response.getHeader("Location")).isEqualTo("https://127.0.0.1:" + proxy.port() + "/v2/a/blobs/uploads/u");
  }

  @Test
  void anUpstreamCertificateOutsideTheTrustStoreIsRefusedWith502() throws Exception {
    TestProxy proxy = TestProxy.start(vertx, "https://localhost:" + upstreamPort);

    Reply reply = call(vertx.createHttpClient(), HttpMethod.GET, proxy.port(), "/v2/");

    assertThat(reply.response().statusCode()).isEqualTo(502);
    assertThat(reply.body().toJsonObject().getJsonArray("errors").getJsonObject(0).getString("message"))
        .isEqualTo("TLS with the upstream registry failed");
  }

  @Test
  void anUpstreamCertificateForAnotherHostIsRefused() throws Exception {
    TestProxy proxy = TestProxy.start(vertx, "https://127.0.0.2:" + upstreamPort, "--upstream.ca", certificates.caCertificate().toString());

    Reply reply = call(vertx.createHttpClient(), HttpMethod.GET, proxy.port(), "/v2/");

    assertThat(reply.response().statusCode()).isEqualTo(502);
    assertThat(reply.body().toJsonObject().getJsonArray("errors").getJsonObject(0).getString("message"))
        .isEqualTo("TLS with the upstream registry failed");
  }

  private record Reply(HttpClientResponse response, Buffer body) {}

  private static Reply call(HttpClient client, HttpMethod method, int port, String uri) throws Exception {
    return client.request(method, port, "127.0.0.1", uri)
        .compose(request -> request.send().compose(response -> response.body().map(body -> new Reply(response, body))))
        .await(10, TimeUnit.SECONDS);
  }
}
