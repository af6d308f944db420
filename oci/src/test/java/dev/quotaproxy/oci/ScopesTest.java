package dev.quotaproxy.oci;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ScopesTest {
  @ParameterizedTest
  @CsvSource(delimiter = '|', textBlock = """
      # repository          | its scopes, outermost first          | namespace
      acme                  | acme                                 | acme
      acme/app              | acme,acme/app                        | acme
      acme/team/app         | acme,acme/team,acme/team/app         | acme
      a/b/c/d               | a,a/b,a/b/c,a/b/c/d                  | a
      my-org/blobs/manifests| my-org,my-org/blobs,my-org/blobs/manifests | my-org
      """)
  void aRepositoryIsInEveryScopeOfItsPath(String repository, String scopes, String namespace) {
    assertThat(Scopes.of(repository)).isEqualTo(List.of(scopes.split(",")));
    assertThat(Scopes.namespace(repository)).isEqualTo(namespace);
  }

  @ParameterizedTest
  @CsvSource({"acme,acme", "acme/team,acme"})
  void aScopesNamespaceIsItsFirstComponent(String scope, String namespace) {
    assertThat(Scopes.namespace(scope)).isEqualTo(namespace);
  }
}
