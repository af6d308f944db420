package dev.quotaproxy.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.config.ProxyConfig;
import io.vertx.core.MultiMap;
import io.vertx.core.net.HostAndPort;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ForwardedHeadersTest {
  private static final ForwardedHeaders DIRECT = new ForwardedHeaders(listen(false, false));
  private static final ForwardedHeaders BEHIND_BALANCER = new ForwardedHeaders(listen(true, true));
  private static final HostAndPort PROXY = HostAndPort.create("proxy.example", 8080);

  private static ProxyConfig.Listen listen(boolean tls, boolean trustForwardedHeaders) {
    Optional<ProxyConfig.Tls> certificate = tls
        ? Optional.of(new ProxyConfig.Tls(Path.of("chain.pem"), Path.of("key.pem")))
        : Optional.empty();
    return new ProxyConfig.Listen("0.0.0.0", 5000, certificate, trustForwardedHeaders, Duration.ofMinutes(1));
  }

  private static MultiMap clientHeaders() {
    return MultiMap.caseInsensitiveMultiMap()
        .add("Host", "proxy.example:8080")
        .add("Expect", "100-continue")
        .add("Content-Length", "5")
        .add("Connection", "keep-alive")
        .add("Authorization", "Bearer t")
        .add("Accept", "application/vnd.oci.image.index.v1+json")
        .add("Accept", "application/vnd.oci.image.manifest.v1+json")
        .add("X-Forwarded-For", "10.9.9.9")
        .add("X-Forwarded-Host", "balancer.example")
        .add("X-Forwarded-Proto", "https")
        .add("Forwarded", "for=10.9.9.9");
  }

  @Test
  void aDirectClientsForwardedHeadersAreReplacedByTheProxysOwn() {
    MultiMap sent = DIRECT.toUpstream(clientHeaders(), PROXY, "192.0.2.7");

    assertThat(sent.names()).containsExactlyInAnyOrder(
        "Authorization", "Accept", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-For", "Via");
    assertThat(sent.getAll("Accept")).containsExactly(
        "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json");
    assertThat(sent.get("X-Forwarded-Host")).isEqualTo("proxy.example:8080");
    assertThat(sent.get("X-Forwarded-Proto")).isEqualTo("http");
    assertThat(sent.get("X-Forwarded-For")).isEqualTo("192.0.2.7");
    assertThat(sent.get("Via")).isEqualTo("1.1 quota-proxy");
  }

  @Test
  void behindATrustedBalancerItsForwardedHeadersPassAndTheClientsAddressIsAppended() {
    MultiMap sent = BEHIND_BALANCER.toUpstream(clientHeaders(), PROXY, "10.0.0.2");

    assertThat(sent.get("X-Forwarded-Host")).isEqualTo("balancer.example");
    assertThat(sent.get("X-Forwarded-Proto")).isEqualTo("https");
    assertThat(sent.get("Forwarded")).isEqualTo("for=10.9.9.9");
    assertThat(sent.getAll("X-Forwarded-For")).containsExactly("10.9.9.9, 10.0.0.2");
    assertThat(sent.contains("Host")).isFalse();
    assertThat(sent.contains("Expect")).isFalse();
    assertThat(sent.contains("Content-Length")).isFalse();
  }

  @Test
  void behindATrustedBalancerThatSaysNothingTheProxyFillsIn() {
    MultiMap sent = BEHIND_BALANCER.toUpstream(MultiMap.caseInsensitiveMultiMap(), PROXY, "10.0.0.2");

    assertThat(sent.get("X-Forwarded-Host")).isEqualTo("proxy.example:8080");
    assertThat(sent.get("X-Forwarded-Proto")).isEqualTo("https");
    assertThat(sent.get("X-Forwarded-For")).isEqualTo("10.0.0.2");
  }

  @Test
  void withoutAnAuthorityOrAPeerAddressThoseHeadersAreLeftOut() {
    MultiMap sent = DIRECT.toUpstream(MultiMap.caseInsensitiveMultiMap(), null, null);

    assertThat(sent.names()).containsExactlyInAnyOrder("X-Forwarded-Proto", "Via");
  }

  @Test
  void theClientsAddressIsThePeersUnlessATrustedBalancerSawAnother() {
    MultiMap forwarded = MultiMap.caseInsensitiveMultiMap().add("X-Forwarded-For", "203.0.113.5, 10.1.1.1 ");

    assertThat(DIRECT.clientAddress(forwarded, "192.0.2.7")).isEqualTo("192.0.2.7");
    // The last entry is what the balancer saw; earlier ones are the client's own word.
    assertThat(BEHIND_BALANCER.clientAddress(forwarded, "10.0.0.2")).isEqualTo("10.1.1.1");
    assertThat(BEHIND_BALANCER.clientAddress(MultiMap.caseInsensitiveMultiMap().add("X-Forwarded-For", " "), "10.0.0.2"))
        .isEqualTo("10.0.0.2");
    assertThat(BEHIND_BALANCER.clientAddress(MultiMap.caseInsensitiveMultiMap(), "")).isEmpty();
  }

  @Test
  void theClientsOriginIsWhatItAddressedAsATrustedBalancerOrTheClientSays() {
    MultiMap forwarded = MultiMap.caseInsensitiveMultiMap()
        .add("X-Forwarded-Proto", "https, http")
        .add("X-Forwarded-Host", "registry.example, balancer.internal");

    assertThat(DIRECT.clientOrigin(forwarded, PROXY)).isEqualTo("http://proxy.example:8080");
    assertThat(BEHIND_BALANCER.clientOrigin(forwarded, PROXY)).isEqualTo("https://registry.example");
    assertThat(BEHIND_BALANCER.clientOrigin(MultiMap.caseInsensitiveMultiMap(), PROXY)).isEqualTo("https://proxy.example:8080");
    assertThat(DIRECT.clientOrigin(MultiMap.caseInsensitiveMultiMap(), null)).isEqualTo("http://0.0.0.0:5000");
  }
}
