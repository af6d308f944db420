package dev.quotaproxy.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import io.vertx.core.internal.net.RFC3986;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The canonical form of a path: exactly the paths Vert.x Web routes as themselves. The last test holds
 * the rule to Vert.x's own normalisation ({@code RFC3986.normalizePath}, what {@code normalizedPath()}
 * returns), so a Vert.x upgrade that normalises differently fails here rather than opening a bypass.
 */
class CanonicalPathTest {

  @ParameterizedTest
  @ValueSource(strings = {"/", "/api/v1/system", "/api/v1/system/", "/api/v1/groups/uni.v2", "/api/v1/groups/a..b",
      "/api/v1/groups/...", "/openapi.yaml", "/reports/echarts.min.js", "/api/v1/system%00", "/api/v1/limits%3Fscope=acme",
      "/api/v1/groups/caf%C3%A9", "/api/v1/groups/a%20b", "/api/v1/groups/a%25", "/api/v1/system;x", "/API/v1/system",
      "/a:b@c!$&'()*+,=-._~"})
  void theseAreRoutedAsSent(String path) {
    assertThat(CanonicalPath.problem(path)).isNull();
    assertThat(RFC3986.normalizePath(path)).isEqualTo(path);
  }

  @ParameterizedTest
  @ValueSource(strings = {"/%61pi/v1/system", "/api/v1/%73ystem", "/api/v1/%2e", "/%2E%2E/api", "/api/v1/groups/%7e",
      "//api/v1/system", "/api//v1/system", "/api/v1/system//", "/./api/v1/system", "/x/../api/v1/system", "/api/v1/system/.",
      "/api/v1/system/..", "/api%2Fv1/system", "/api%2fv1/system", "/api/v1/%", "/api/v1/%4", "/api/v1/%zz", "/api/v1/%+1",
      "/api/v1/%-1", "/api\\v1/system", "/api/v1/sys tem", "/api/v1/caf\u00e9", "/api/v1/system#x", "/api/v1/[x]", "api/v1/system",
      "*", ""})
  void theseAreRefusedWithAReason(String path) {
    assertThat(CanonicalPath.problem(path)).isNotBlank();
  }

  @Test
  void theReasonNamesWhatToFix() {
    assertThat(CanonicalPath.problem("/%61pi/v1/system")).contains("'a'", "%61");
    assertThat(CanonicalPath.problem("//api/v1/system")).contains("//");
    assertThat(CanonicalPath.problem("/x/../api/v1/system")).contains("..");
    assertThat(CanonicalPath.problem("/api%2Fv1/system")).contains("%2F");
    assertThat(CanonicalPath.problem(null)).contains("start with /");
  }

  /**
   * Random paths over an alphabet rich in the characters that matter (separators, dots, percent signs, hex
   * digits): whatever is accepted is its own normalised form, and its segments percent-decode without error
   * (as Vert.x decodes route parameters).
   */
  @Test
  void everyAcceptedPathIsItsOwnNormalisedForm() {
    Random random = new Random(20240917L);
    String alphabet = "/./%2eE5fF61aA7zZ+-~_;:@ ";
    int accepted = 0;
    for (int i = 0; i < 20_000; i++) {
      StringBuilder path = new StringBuilder(random.nextInt(4) == 0 ? "" : "/");
      int length = random.nextInt(14);
      for (int j = 0; j < length; j++) {
        path.append(alphabet.charAt(random.nextInt(alphabet.length())));
      }
      String candidate = path.toString();
      if (CanonicalPath.problem(candidate) != null) {
        continue;
      }
      accepted++;
      assertThat(RFC3986.normalizePath(candidate)).as(candidate).isEqualTo(candidate);
      for (String segment : candidate.split("/")) {
        assertThatCode(() -> RFC3986.decodeURIComponent(segment, false)).as(candidate).doesNotThrowAnyException();
      }
    }
    assertThat(accepted).as("the generator reaches accepted paths too").isGreaterThan(500);
  }
}
