package dev.quotaproxy.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class UpstreamUrlRewriterTest {
  private static final String PROXY = "https://proxy.example:8443";

  @ParameterizedTest
  @CsvSource(delimiter = '|', textBlock = """
      # upstream                    | header value                                               | rewritten
      http://registry:5000          | http://registry:5000/v2/a/blobs/uploads/u?_state=x         | https://proxy.example:8443/v2/a/blobs/uploads/u?_state=x
      http://registry:5000          | HTTP://Registry:5000/v2/a/blobs/sha256:1                   | https://proxy.example:8443/v2/a/blobs/sha256:1
      http://registry:5000          | http://registry:5000                                       | https://proxy.example:8443
      http://registry:5000          | http://registry:5000?x=1                                   | https://proxy.example:8443?x=1
      http://registry               | http://registry:80/v2/                                     | https://proxy.example:8443/v2/
      http://registry               | http://registry/v2/                                        | https://proxy.example:8443/v2/
      https://registry              | https://registry:443/v2/                                   | https://proxy.example:8443/v2/
      # Not the upstream: a longer host, another port or scheme, a relative URL, object storage.
      http://registry:5000          | http://registry:50001/v2/                                  | http://registry:50001/v2/
      http://registry:5000          | http://registry.evil:5000/v2/                              | http://registry.evil:5000/v2/
      http://registry               | https://registry/v2/                                       | https://registry/v2/
      http://registry:5000          | /v2/a/blobs/uploads/u                                      | /v2/a/blobs/uploads/u
      http://registry:5000          | https://s3.amazonaws.com/bucket/blob?X-Amz-Signature=1     | https://s3.amazonaws.com/bucket/blob?X-Amz-Signature=1
      """)
  void rewritesOnlyUrlsOfTheUpstream(String upstream, String value, String expected) {
    assertThat(new UpstreamUrlRewriter(URI.create(upstream)).rewriteUrl(value, PROXY)).isEqualTo(expected);
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', textBlock = """
      <http://registry:5000/v2/_catalog?last=b&n=2>; rel="next"                      | <https://proxy.example:8443/v2/_catalog?last=b&n=2>; rel="next"
      </v2/_catalog?last=b&n=2>; rel="next"                                          | </v2/_catalog?last=b&n=2>; rel="next"
      <http://registry:5000/a>; rel="next", <https://cdn.example/x>; rel="alternate"  | <https://proxy.example:8443/a>; rel="next", <https://cdn.example/x>; rel="alternate"
      """)
  void rewritesEveryTargetOfALink(String link, String expected) {
    assertThat(new UpstreamUrlRewriter(URI.create("http://registry:5000")).rewriteLink(link, PROXY)).isEqualTo(expected);
  }
}
