package dev.quotaproxy.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.MultiMap;
import java.util.Set;
import org.junit.jupiter.api.Test;

class HopByHopHeadersTest {
  @Test
  void repeatedHeadersStayRepeatedAndInOrder() {
    MultiMap from = MultiMap.caseInsensitiveMultiMap()
        .add("Accept", "application/vnd.oci.image.index.v1+json")
        .add("Accept", "application/vnd.docker.distribution.manifest.v2+json")
        .add("Accept", "*/*");
    MultiMap to = MultiMap.caseInsensitiveMultiMap();

    HopByHopHeaders.copyEndToEnd(from, to, Set.of());

    assertThat(to.getAll("accept")).containsExactly(
        "application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.v2+json", "*/*");
  }

  @Test
  void dropsTheFixedSetAndWhatConnectionNames() {
    MultiMap from = MultiMap.caseInsensitiveMultiMap()
        .add("Connection", "keep-alive, X-Hop")
        .add("connection", "x-other-hop")
        .add("Keep-Alive", "timeout=5")
        .add("Proxy-Connection", "keep-alive")
        .add("TE", "trailers")
        .add("Trailer", "X-Checksum")
        .add("Transfer-Encoding", "chunked")
        .add("Upgrade", "h2c")
        .add("X-Hop", "1")
        .add("X-Other-Hop", "2")
        .add("Docker-Content-Digest", "sha256:abc")
        .add("WWW-Authenticate", "Bearer realm=\"https://auth/token\"");
    MultiMap to = MultiMap.caseInsensitiveMultiMap();

    HopByHopHeaders.copyEndToEnd(from, to, Set.of());

    assertThat(to.names()).containsExactlyInAnyOrder("Docker-Content-Digest", "WWW-Authenticate");
  }

  @Test
  void skipsWhatTheCallerSetsItself() {
    MultiMap from = MultiMap.caseInsensitiveMultiMap().add("Host", "proxy:8080").add("Expect", "100-continue").add("Range", "bytes=0-9");
    MultiMap to = MultiMap.caseInsensitiveMultiMap();

    HopByHopHeaders.copyEndToEnd(from, to, Set.of("host", "expect"));

    assertThat(to.names()).containsExactly("Range");
  }
}
