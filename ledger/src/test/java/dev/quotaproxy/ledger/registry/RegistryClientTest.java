package dev.quotaproxy.ledger.registry;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class RegistryClientTest {
  @Test
  void theNextPageIsTheLinkWhoseRelationIsNext() {
    assertThat(RegistryClient.nextLink(List.of("</v2/_catalog?last=a%2Fx&n=2>; rel=\"next\""), "/v2/_catalog?n=2"))
        .isEqualTo("/v2/_catalog?last=a%2Fx&n=2");
    assertThat(RegistryClient.nextLink(
        List.of("</v2/a/tags/list?n=1&last=0>; rel=\"prev\", </v2/a/tags/list?n=1&last=2>; rel=next"), "/v2/a/tags/list?n=1"))
        .isEqualTo("/v2/a/tags/list?n=1&last=2");
    assertThat(RegistryClient.nextLink(List.of("<https://registry.example:5000/v2/_catalog?n=2&last=b>; rel=\"next\""), "/v2/_catalog"))
        .as("an absolute link is followed on the walker's own registry").isEqualTo("/v2/_catalog?n=2&last=b");
    assertThat(RegistryClient.nextLink(List.of("<?n=2&last=b>; rel=\"next\""), "/v2/_catalog?n=2"))
        .isEqualTo("/v2/_catalog?n=2&last=b");
  }

  @Test
  void withoutANextLinkThisIsTheLastPage() {
    assertThat(RegistryClient.nextLink(List.of(), "/v2/_catalog")).isNull();
    assertThat(RegistryClient.nextLink(List.of("</v2/_catalog?last=a>; rel=\"prev\""), "/v2/_catalog")).isNull();
    assertThat(RegistryClient.nextLink(List.of("</v2/_catalog?last=a>; rel=\"nextish\""), "/v2/_catalog")).isNull();
  }
}
