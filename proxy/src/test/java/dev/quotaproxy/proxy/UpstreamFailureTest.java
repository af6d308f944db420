package dev.quotaproxy.proxy;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.put;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.wireMockConfig;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.github.tomakehurst.wiremock.http.Fault;
import com.github.tomakehurst.wiremock.junit5.WireMockExtension;
import dev.quotaproxy.proxy.support.TestProxy;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** An upstream that breaks, stalls or lies gets an OCI error or a closed connection, never a hang. */
class UpstreamFailureTest {
  @RegisterExtension static WireMockExtension registry = WireMockExtension.newInstance().options(wireMockConfig().dynamicPort()).build();

  static Vertx vertx;
  static HttpClient client;
  static TestProxy proxy;

  @BeforeAll
  static void startProxy() {
    vertx = Vertx.vertx();
    proxy = TestProxy.start(vertx, registry.baseUrl(), "--upstream.idle-timeout", "700ms");
    client = vertx.createHttpClient();
  }

  @AfterAll
  static void stop() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  @BeforeEach
  void reset() {
    registry.resetAll();
  }

  @Test
  void connectionResetBeforeAnAnswerIs502() throws Exception {
    registry.stubFor(get(anyUrl()).willReturn(aResponse().withFault(Fault.CONNECTION_RESET_BY_PEER)));

    assertOciError(fetch("/v2/acme/app/manifests/latest"), 502, "the upstream registry failed to answer");
  }

  @Test
  void emptyResponseIs502() throws Exception {
    registry.stubFor(get(anyUrl()).willReturn(aResponse().withFault(Fault.EMPTY_RESPONSE)));

    assertOciError(fetch("/v2/acme/app/manifests/latest"), 502, "the upstream registry failed to answer");
  }

  @Test
  void garbageInsteadOfHttpIs502() throws Exception {
    registry.stubFor(get(anyUrl()).willReturn(aResponse().withFault(Fault.RANDOM_DATA_THEN_CLOSE)));

    assertOciError(fetch("/v2/acme/app/manifests/latest"), 502, "the upstream registry failed to answer");
  }

  @Test
  void noAnswerWithinTheIdleTimeoutIs504() throws Exception {
    registry.stubFor(get(anyUrl()).willReturn(aResponse().withStatus(200).withFixedDelay(5_000)));

    assertOciError(fetch("/v2/acme/app/manifests/latest"), 504, "the upstream registry did not answer within 700ms");
  }

  @Test
  void aSlowButMovingTransferIsNotCutOff() throws Exception {
    // 10 chunks 200 ms apart: 2 s in all, far over the 700 ms idle timeout, but never idle that long.
    registry.stubFor(get(anyUrl()).willReturn(aResponse().withStatus(200).withBody("0123456789").withChunkedDribbleDelay(10, 2_000)));

    Reply reply = fetch("/v2/acme/app/blobs/sha256:ab");

    assertThat(reply.response.statusCode()).isEqualTo(200);
    assertThat(reply.body.toString()).isEqualTo("0123456789");
  }

  @Test
  void upstreamDyingMidBodyClosesTheClientConnectionInsteadOfEndingCleanly() {
    registry.stubFor(get(anyUrl()).willReturn(aResponse().withStatus(200).withFault(Fault.MALFORMED_RESPONSE_CHUNK)));

    assertThatThrownBy(() -> fetch("/v2/acme/app/blobs/sha256:ab"))
        .isInstanceOf(ExecutionException.class)
        .hasMessageContaining("closed");
  }

  @Test
  void errorsWhileUploadingAre502AndCloseTheConnection() throws Exception {
    registry.stubFor(put(anyUrl()).willReturn(aResponse().withFault(Fault.CONNECTION_RESET_BY_PEER)));

    HttpClientResponse response = client.request(new RequestOptions().setHost("127.0.0.1").setPort(proxy.port())
        .setMethod(HttpMethod.PUT).setURI("/v2/acme/app/blobs/uploads/u?digest=sha256:ab"))
        .compose(request -> request.send(Buffer.buffer(new byte[256 * 1024])))
        .await(10, TimeUnit.SECONDS);

    assertThat(response.statusCode()).isEqualTo(502);
  }

  private record Reply(HttpClientResponse response, Buffer body) {}

  private Reply fetch(String uri) throws Exception {
    return client.request(new RequestOptions().setHost("127.0.0.1").setPort(proxy.port()).setURI(uri))
        .compose(request -> request.send().compose(response -> response.body().map(body -> new Reply(response, body))))
        .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  private static void assertOciError(Reply reply, int status, String message) {
    assertThat(reply.response.statusCode()).isEqualTo(status);
    JsonObject error = reply.body.toJsonObject().getJsonArray("errors").getJsonObject(0);
    assertThat(error.getString("code")).isEqualTo("UNAVAILABLE");
    assertThat(error.getString("message")).isEqualTo(message);
  }
}
