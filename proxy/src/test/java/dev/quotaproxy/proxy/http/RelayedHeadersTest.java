package dev.quotaproxy.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.proxy.route.OciError;
import io.vertx.core.MultiMap;
import io.vertx.core.http.HttpMethod;
import java.net.URI;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RelayedHeadersTest {
  private static final String PROXY = "https://proxy.example:8443";
  private static final RelayedHeaders RELAYED = new RelayedHeaders(new UpstreamUrlRewriter(URI.create("http://registry:5000")));

  @Test
  void theClientGetsTheEndToEndHeadersWithTheRegistrysUrlsPointedAtTheProxy() {
    MultiMap upstream = MultiMap.caseInsensitiveMultiMap()
        .add("Connection", "keep-alive")
        .add("Keep-Alive", "timeout=5")
        .add("Transfer-Encoding", "chunked")
        .add("Docker-Content-Digest", "sha256:abc")
        .add("Location", "http://registry:5000/v2/a/blobs/uploads/u?_state=x")
        .add("Content-Location", "http://registry:5000/v2/a/manifests/sha256:1")
        .add("Content-Location", "https://cdn.example/blob")
        .add("Link", "<http://registry:5000/v2/_catalog?last=b>; rel=\"next\"")
        .add("WWW-Authenticate", "Bearer realm=\"http://registry:5000/token\"");
    MultiMap client = MultiMap.caseInsensitiveMultiMap();

    RELAYED.toClient(upstream, client, PROXY, List.of());

    assertThat(client.names()).containsExactlyInAnyOrder(
        "Docker-Content-Digest", "Location", "Content-Location", "Link", "WWW-Authenticate");
    assertThat(client.get("Location")).isEqualTo(PROXY + "/v2/a/blobs/uploads/u?_state=x");
    assertThat(client.getAll("Content-Location")).containsExactly(PROXY + "/v2/a/manifests/sha256:1", "https://cdn.example/blob");
    assertThat(client.get("Link")).isEqualTo("<" + PROXY + "/v2/_catalog?last=b>; rel=\"next\"");
    // Only URLs the client follows as the registry's are rewritten: a token realm stays as sent.
    assertThat(client.get("WWW-Authenticate")).isEqualTo("Bearer realm=\"http://registry:5000/token\"");
  }

  @Test
  void theQuotasWarningsAreAddedInOrderAfterTheRegistrysOwn() {
    MultiMap upstream = MultiMap.caseInsensitiveMultiMap().add("Warning", "299 - \"from the registry\"");
    MultiMap client = MultiMap.caseInsensitiveMultiMap();

    RELAYED.toClient(upstream, client, PROXY, List.of("299 - \"storage at 91%\"", "299 - \"egress at 95%\""));

    assertThat(client.getAll("Warning")).containsExactly(
        "299 - \"from the registry\"", "299 - \"storage at 91%\"", "299 - \"egress at 95%\"");
  }

  @ParameterizedTest(name = "{0} {1}, Content-Length {2} -> chunked {3}")
  @CsvSource(nullValues = "null", value = {
      "GET,  200, null, true",
      "GET,  200, 12,   false",
      "GET,  404, null, true",
      "HEAD, 200, null, false", // an answer to HEAD has no body, whatever its head says
      "GET,  204, null, false",
      "GET,  304, null, false",
  })
  void anAnswerWithABodyAndNoLengthGoesChunked(String method, int status, String contentLength, boolean chunked) {
    MultiMap headers = MultiMap.caseInsensitiveMultiMap();
    if (contentLength != null) {
      headers.add("Content-Length", contentLength);
    }

    assertThat(RelayedHeaders.chunked(HttpMethod.valueOf(method), status, headers)).isEqualTo(chunked);
  }

  @Test
  void theProxysOwnErrorIsJsonAndSaysWhenToRetry() {
    MultiMap busy = RelayedHeaders.ofError(OciError.unavailable("busy", 3));
    MultiMap refused = RelayedHeaders.ofError(OciError.badGateway("down"));

    assertThat(busy.get("Content-Type")).isEqualTo("application/json; charset=utf-8");
    assertThat(busy.get("Retry-After")).isEqualTo("3");
    assertThat(refused.names()).containsExactly("Content-Type");
  }

  @Test
  void anAnswerToTheProxysOwnRequestKeepsOnlyWhatTheClientNeedsOfIt() {
    MultiMap answer = MultiMap.caseInsensitiveMultiMap()
        .add("content-type", "application/json")
        .add("WWW-Authenticate", "Bearer realm=\"a\"")
        .add("WWW-Authenticate", "Basic realm=\"b\"")
        .add("Docker-Distribution-API-Version", "registry/2.0")
        .add("Retry-After", "5")
        .add("Content-Length", "120")
        .add("Location", "/v2/a/blobs/uploads/u")
        .add("Docker-Upload-UUID", "u");

    MultiMap relayed = RelayedHeaders.ofOwnRequest(answer);

    assertThat(relayed.names())
        .containsExactlyInAnyOrder("Content-Type", "WWW-Authenticate", "Docker-Distribution-API-Version", "Retry-After");
    assertThat(relayed.getAll("WWW-Authenticate")).containsExactly("Bearer realm=\"a\"", "Basic realm=\"b\"");
    assertThat(relayed.get("Content-Type")).isEqualTo("application/json");
  }
}
