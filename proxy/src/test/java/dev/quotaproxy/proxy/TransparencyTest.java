package dev.quotaproxy.proxy;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.any;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.head;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.put;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.wireMockConfig;
import static org.assertj.core.api.Assertions.assertThat;

import com.github.tomakehurst.wiremock.junit5.WireMockExtension;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.quotaproxy.proxy.support.TestProxy;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Everything that is not a quota decision reaches the other side unchanged. */
class TransparencyTest {
  @RegisterExtension static WireMockExtension registry = WireMockExtension.newInstance().options(wireMockConfig().dynamicPort()).build();

  static Vertx vertx;
  static HttpClient client;
  static TestProxy proxy;

  @BeforeAll
  static void startProxy() {
    vertx = Vertx.vertx();
    proxy = TestProxy.start(vertx, registry.baseUrl());
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
  void repeatedRequestHeadersReachTheRegistryRepeated() throws Exception {
    registry.stubFor(get(anyUrl()).willReturn(aResponse().withStatus(200).withBody("{}")));

    call(HttpMethod.GET, "/v2/acme/app/manifests/latest", request -> request.headers()
        .add("Accept", "application/vnd.oci.image.index.v1+json")
        .add("Accept", "application/vnd.docker.distribution.manifest.v2+json")
        .add("Accept", "application/vnd.oci.image.manifest.v1+json"));

    LoggedRequest seen = onlyRequest();
    assertThat(seen.getHeaders().getHeader("Accept").values()).containsExactly(
        "application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json");
  }

  @Test
  void repeatedResponseHeadersReachTheClientRepeated() throws Exception {
    registry.stubFor(get(anyUrl()).willReturn(aResponse().withStatus(200)
        .withHeader("Warning", "299 - \"first\"", "299 - \"second\"")
        .withBody("[]")));

    Reply reply = call(HttpMethod.GET, "/v2/acme/app/tags/list", request -> {});

    assertThat(reply.response.headers().getAll("Warning")).containsExactly("299 - \"first\"", "299 - \"second\"");
  }

  @Test
  void hopByHopRequestHeadersStayHereAndForwardingHeadersAreAdded() throws Exception {
    registry.stubFor(get(anyUrl()).willReturn(aResponse().withStatus(200)));

    call(HttpMethod.GET, "/v2/", request -> request
        .putHeader("Connection", "keep-alive, X-Hop")
        .putHeader("X-Hop", "1")
        .putHeader("Keep-Alive", "timeout=5")
        .putHeader("Proxy-Connection", "keep-alive")
        .putHeader("TE", "trailers")
        .putHeader("Forwarded", "host=evil.example")
        .putHeader("X-Forwarded-Host", "evil.example")
        .putHeader("Authorization", "Bearer abc")
        .putHeader("User-Agent", "docker/27.0"));

    LoggedRequest seen = onlyRequest();
    assertThat(seen.getHeaders().keys()).doesNotContainAnyElementsOf(List.of("X-Hop", "Keep-Alive", "Proxy-Connection", "TE", "Forwarded"));
    assertThat(seen.getHeader("Authorization")).isEqualTo("Bearer abc");
    assertThat(seen.getHeader("User-Agent")).isEqualTo("docker/27.0");
    assertThat(seen.getHeader("Host")).isEqualTo("localhost:" + registry.getPort());
    assertThat(seen.getHeader("X-Forwarded-Host")).isEqualTo("127.0.0.1:" + proxy.port());
    assertThat(seen.getHeader("X-Forwarded-Proto")).isEqualTo("http");
    assertThat(seen.getHeader("X-Forwarded-For")).isEqualTo("127.0.0.1");
    assertThat(seen.getHeader("Via")).isEqualTo("1.1 quota-proxy");
  }

  @Test
  void hopByHopResponseHeadersStayHere() throws Exception {
    registry.stubFor(get(anyUrl()).willReturn(aResponse().withStatus(200)
        .withHeader("Connection", "X-Upstream-Hop")
        .withHeader("X-Upstream-Hop", "secret")
        .withHeader("Keep-Alive", "timeout=99")
        .withHeader("Docker-Distribution-Api-Version", "registry/2.0")
        .withBody("{}")));

    Reply reply = call(HttpMethod.GET, "/v2/", request -> {});

    assertThat(reply.response.headers().names()).doesNotContain("X-Upstream-Hop", "Keep-Alive");
    assertThat(reply.response.getHeader("Docker-Distribution-Api-Version")).isEqualTo("registry/2.0");
  }

  @Test
  void locationAndLinkNamingTheRegistryPointAtTheProxy() throws Exception {
    String upstream = "http://localhost:" + registry.getPort();
    registry.stubFor(post(urlPathEqualTo("/v2/acme/app/blobs/uploads/")).willReturn(aResponse().withStatus(202)
        .withHeader("Location", upstream + "/v2/acme/app/blobs/uploads/u1?_state=s")
        .withHeader("Docker-Upload-UUID", "u1")
        .withHeader("Range", "0-0")));
    registry.stubFor(get(urlPathEqualTo("/v2/_catalog")).willReturn(aResponse().withStatus(200)
        .withHeader("Link", "<" + upstream + "/v2/_catalog?last=b&n=2>; rel=\"next\"")
        .withBody("{\"repositories\":[\"a\",\"b\"]}")));

    Reply upload = call(HttpMethod.POST, "/v2/acme/app/blobs/uploads/", request -> {});
    Reply catalog = call(HttpMethod.GET, "/v2/_catalog?n=2", request -> {});

    assertThat(upload.response.statusCode()).isEqualTo(202);
    assertThat(upload.response.getHeader("Location")).isEqualTo(proxy.origin() + "/v2/acme/app/blobs/uploads/u1?_state=s");
    assertThat(upload.response.getHeader("Docker-Upload-UUID")).isEqualTo("u1");
    assertThat(upload.response.getHeader("Range")).isEqualTo("0-0");
    assertThat(catalog.response.getHeader("Link")).isEqualTo("<" + proxy.origin() + "/v2/_catalog?last=b&n=2>; rel=\"next\"");
    assertThat(catalog.body.toString()).isEqualTo("{\"repositories\":[\"a\",\"b\"]}");
  }

  @Test
  void redirectsElsewherePassUnchangedAndAreNotFollowed() throws Exception {
    String signed = "https://objects.example/bucket/sha256/ab?X-Amz-Signature=xyz";
    registry.stubFor(get(anyUrl()).willReturn(aResponse().withStatus(307).withHeader("Location", signed)));

    Reply reply = call(HttpMethod.GET, "/v2/acme/app/blobs/sha256:ab", request -> {});

    assertThat(reply.response.statusCode()).isEqualTo(307);
    assertThat(reply.response.getHeader("Location")).isEqualTo(signed);
    assertThat(registry.getAllServeEvents()).hasSize(1);
  }

  @Test
  void errorsAndAuthenticationChallengesPassUnchanged() throws Exception {
    String body = "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\",\"detail\":null}]}";
    registry.stubFor(get(anyUrl()).willReturn(aResponse().withStatus(401)
        .withHeader("WWW-Authenticate",
            "Bearer realm=\"https://auth.example/token\",service=\"registry\",scope=\"repository:acme/app:pull\"")
        .withHeader("Content-Type", "application/json; charset=utf-8")
        .withBody(body)));

    Reply reply = call(HttpMethod.GET, "/v2/acme/app/manifests/latest", request -> {});

    assertThat(reply.response.statusCode()).isEqualTo(401);
    assertThat(reply.response.getHeader("WWW-Authenticate"))
        .isEqualTo("Bearer realm=\"https://auth.example/token\",service=\"registry\",scope=\"repository:acme/app:pull\"");
    assertThat(reply.body.toString()).isEqualTo(body);
  }

  @Test
  void rangeRequestsAndPartialContent() throws Exception {
    registry.stubFor(get(anyUrl()).willReturn(aResponse().withStatus(206)
        .withHeader("Content-Range", "bytes 0-3/10")
        .withHeader("Docker-Content-Digest", "sha256:ab")
        .withBody("0123")));

    Reply reply = call(HttpMethod.GET, "/v2/acme/app/blobs/sha256:ab", request -> request.putHeader("Range", "bytes=0-3"));

    assertThat(onlyRequest().getHeader("Range")).isEqualTo("bytes=0-3");
    assertThat(reply.response.statusCode()).isEqualTo(206);
    assertThat(reply.response.getHeader("Content-Range")).isEqualTo("bytes 0-3/10");
    assertThat(reply.response.getHeader("Docker-Content-Digest")).isEqualTo("sha256:ab");
    assertThat(reply.body.toString()).isEqualTo("0123");
  }

  @Test
  void headKeepsContentLengthAndHasNoBody() throws Exception {
    registry.stubFor(head(anyUrl()).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Length", "12345")
        .withHeader("Docker-Content-Digest", "sha256:ab")));

    Reply reply = call(HttpMethod.HEAD, "/v2/acme/app/blobs/sha256:ab", request -> {});

    assertThat(reply.response.statusCode()).isEqualTo(200);
    assertThat(reply.response.getHeader("Content-Length")).isEqualTo("12345");
    assertThat(reply.response.getHeader("Docker-Content-Digest")).isEqualTo("sha256:ab");
    assertThat(reply.body.length()).isZero();
  }

  @Test
  void expectContinueIsAnsweredByTheProxyAndNotForwarded() throws Exception {
    registry.stubFor(put(anyUrl()).willReturn(aResponse().withStatus(201)));
    Buffer body = Buffer.buffer("layer bytes ".repeat(1000));
    Promise<Void> continued = Promise.promise();

    HttpClientRequest request = client.request(new RequestOptions().setPort(proxy.port()).setHost("127.0.0.1")
        .setMethod(HttpMethod.PUT).setURI("/v2/acme/app/blobs/uploads/u1?digest=sha256:ab")).await(10, TimeUnit.SECONDS);
    request.putHeader("Expect", "100-continue").putHeader("Content-Length", String.valueOf(body.length()));
    request.continueHandler(v -> {
      continued.complete();
      request.end(body);
    });
    request.sendHead();
    HttpClientResponse response = request.response().await(10, TimeUnit.SECONDS);

    assertThat(continued.future().isComplete()).as("100 Continue received before the body was sent").isTrue();
    assertThat(response.statusCode()).isEqualTo(201);
    LoggedRequest seen = onlyRequest();
    assertThat(seen.containsHeader("Expect")).isFalse();
    assertThat(seen.getBodyAsString()).isEqualTo(body.toString());
  }

  @Test
  void chunkedRequestBodiesStayChunked() throws Exception {
    registry.stubFor(any(anyUrl()).willReturn(aResponse().withStatus(202)));

    HttpClientRequest request = client.request(new RequestOptions().setPort(proxy.port()).setHost("127.0.0.1")
        .setMethod(HttpMethod.PATCH).setURI("/v2/acme/app/blobs/uploads/u1")).await(10, TimeUnit.SECONDS);
    request.setChunked(true);
    request.write("part one, ");
    request.end("part two");
    assertThat(request.response().await(10, TimeUnit.SECONDS).statusCode()).isEqualTo(202);

    LoggedRequest seen = onlyRequest();
    assertThat(seen.getHeader("Transfer-Encoding")).isEqualTo("chunked");
    assertThat(seen.containsHeader("Content-Length")).isFalse();
    assertThat(seen.getBodyAsString()).isEqualTo("part one, part two");
  }

  @Test
  void pathAndQueryAreForwardedByteForByte() throws Exception {
    registry.stubFor(any(anyUrl()).willReturn(aResponse().withStatus(202)));

    call(HttpMethod.PATCH, "/v2/acme/app/blobs/uploads/u1?_state=a%2Bb%3D%3D&x=%7E", request -> {});

    assertThat(onlyRequest().getUrl()).isEqualTo("/v2/acme/app/blobs/uploads/u1?_state=a%2Bb%3D%3D&x=%7E");
  }

  @Test
  void proxyErrorsAreOciJson() throws Exception {
    Vertx other = Vertx.vertx();
    try {
      TestProxy nowhere = TestProxy.start(other, "http://127.0.0.1:1");
      Reply reply = call(nowhere.port(), HttpMethod.GET, "/v2/", request -> {});
      HttpClientResponse response = reply.response;
      JsonObject body = reply.body.toJsonObject();

      assertThat(response.statusCode()).isEqualTo(502);
      assertThat(response.getHeader("Content-Type")).isEqualTo("application/json; charset=utf-8");
      assertThat(body.getJsonArray("errors").getJsonObject(0).getString("code")).isEqualTo("UNAVAILABLE");
      assertThat(body.getJsonArray("errors").getJsonObject(0).getString("message"))
          .isEqualTo("the upstream registry is unreachable");
    } finally {
      other.close().await(10, TimeUnit.SECONDS);
    }
  }

  private LoggedRequest onlyRequest() {
    List<LoggedRequest> requests = registry.findAll(com.github.tomakehurst.wiremock.client.WireMock.anyRequestedFor(anyUrl()));
    assertThat(requests).hasSize(1);
    return requests.get(0);
  }

  private record Reply(HttpClientResponse response, Buffer body) {}

  private Reply call(HttpMethod method, String uri, java.util.function.Consumer<HttpClientRequest> customize) throws Exception {
    return call(proxy.port(), method, uri, customize);
  }

  private Reply call(int port, HttpMethod method, String uri, java.util.function.Consumer<HttpClientRequest> customize) throws Exception {
    Future<Reply> reply = client.request(new RequestOptions().setPort(port).setHost("127.0.0.1").setMethod(method).setURI(uri))
        .compose(request -> {
          customize.accept(request);
          // Nested, so the body is claimed in the same event-loop turn the response arrives in.
          return request.send().compose(response -> response.body().map(body -> new Reply(response, body)));
        });
    return reply.await(10, TimeUnit.SECONDS);
  }
}
