package dev.quotaproxy.proxy.route;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RequestTargetTest {
  private static final String HEX = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(delimiter = '|', quoteCharacter = '"', textBlock = """
      # raw path                                                        | decoded path the registry routes
      /                                                                 | /
      /v2                                                               | /v2
      /v2/                                                              | /v2/
      /v2/_catalog                                                      | /v2/_catalog
      /v2/acme/app/blobs/uploads/                                       | /v2/acme/app/blobs/uploads/
      /v2/acme/app/blobs/uploads                                        | /v2/acme/app/blobs/uploads
      /v2/acme/app/blobs/uploads/5b0d4f8a-1c2e-4f3a-8d41-cf1c93ef8286   | /v2/acme/app/blobs/uploads/5b0d4f8a-1c2e-4f3a-8d41-cf1c93ef8286
      /v2/acme/app/blobs/uploads/RDk1MzA2RkEtRkFEMy00RTM2IA_-==         | /v2/acme/app/blobs/uploads/RDk1MzA2RkEtRkFEMy00RTM2IA_-==
      /v2/acme/app/manifests/sha256:$HEX                                | /v2/acme/app/manifests/sha256:$HEX
      /v2/localhost:5000/a/blobs/sha256+b64u:abc=                       | /v2/localhost:5000/a/blobs/sha256+b64u:abc=
      /v2/a/manifests/v1.0_rc-2~x$&,;@                                  | /v2/a/manifests/v1.0_rc-2~x$&,;@
      # Escapes of characters that need them round-trip, and route nowhere (bytes decode one char each).
      /v2/a%20b/manifests/x                                             | /v2/a b/manifests/x
      /v2/a%3Fb%23c/manifests/x                                         | /v2/a?b#c/manifests/x
      /v2/caf%C3%A9/manifests/x                                         | /v2/caf\u00c3\u00a9/manifests/x
      """)
  void canonicalPathsDecodeToWhatTheRegistryRoutes(String raw, String decoded) {
    RequestTarget target = RequestTarget.parse(raw.replace("$HEX", HEX), null);

    assertThat(target.problem()).isNull();
    assertThat(target.canonical()).isTrue();
    assertThat(target.path()).isEqualTo(decoded.replace("$HEX", HEX));
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(delimiter = '|', quoteCharacter = '"', textBlock = """
      # raw path                                 | why the registry might route it otherwise
      /v2/acme/app/blobs%2Fuploads/              | encoded '/' (%2F) in segment 4
      /v2/acme/app/blobs%2fuploads/u1            | encoded '/' (%2f) in segment 4
      /%762/acme/app/blobs/uploads/              | '%76' in segment 1 encodes 'v', which needs no encoding
      /v2/%61cme/app/manifests/x                 | '%61' in segment 2 encodes 'a', which needs no encoding
      /v2/acme/app/blobs/sha256%3A$HEX           | '%3A' in segment 5 encodes ':', which needs no encoding
      /v2/acme/app/blobs/uploads/a%2Bb           | '%2B' in segment 6 encodes '+', which needs no encoding
      /v2/acme/%2E%2E/blobs/uploads/             | encoded '.' (%2E) in segment 3
      /v2/acme/app/%2e/blobs/uploads/            | encoded '.' (%2e) in segment 4
      /v2/acme%252Fapp/blobs/uploads/            | encoded '%' (%25) in segment 2
      /v2/acme/app/blobs/%zz                     | malformed percent-escape '%zz' in segment 5
      /v2/acme/app%2                             | malformed percent-escape '%2' in segment 3
      /v2/acme/app%                              | malformed percent-escape '%' in segment 3
      /v2/caf%c3%a9/manifests/x                  | '%c3' in segment 2 is not written in upper case
      /v2//acme/app/blobs/uploads/               | empty segment 2 ('//')
      //v2/acme/app/blobs/uploads/               | empty segment 1 ('//')
      /v2/acme/app/blobs/uploads//               | empty segment 6 ('//')
      /v2/acme/./app/blobs/uploads/              | '.' segment 3
      /v2/x/../acme/app/blobs/uploads/           | '..' segment 3
      /v2/acme/app/blobs/uploads/..              | '..' segment 6
      /v2/a#b/manifests/x                        | '#' in segment 2 must be percent-encoded
      /v2/a(b)/manifests/x                       | '(' in segment 2 must be percent-encoded
      /v2/a b/manifests/x                        | character U+0020 in segment 2 must be percent-encoded
      /v2/caf\u00e9/manifests/x                  | character U+00E9 in segment 2 must be percent-encoded
      v2/acme/app/blobs/uploads/                 | it does not start with '/'
      *                                          | it does not start with '/'
      """)
  void nonCanonicalPathsAreNamedAnywhere(String raw, String problem) {
    RequestTarget target = RequestTarget.parse(raw.replace("$HEX", HEX), null);

    assertThat(target.canonical()).isFalse();
    assertThat(target.path()).isNull();
    assertThat(target.isRegistryApi()).isFalse();
    assertThat(target.problem()).isEqualTo("the request path is not in canonical form: " + problem);
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(delimiter = '|', quoteCharacter = '"', nullValues = "-", textBlock = """
      # raw query                                          | digest            | mount      | from
      -                                                    | -                 | -          | -
      n=100&last=acme%2Fapp                                | -                 | -          | -
      _state=abc%3D%3D&digest=sha256%3Aabc                 | sha256:abc        | -          | -
      digest=sha256%2Bb64u%3Aabc                           | sha256+b64u:abc   | -          | -
      digest=sha256+b64u:abc                               | sha256 b64u:abc   | -          | -
      mount=sha256:abc&from=acme%2Fbase                    | -                 | sha256:abc | acme/base
      from=acme/base&mount=sha256:abc                      | -                 | sha256:abc | acme/base
      &&digest=x&                                          | x                 | -          | -
      digest                                               | ""                | -          | -
      _state=a&_state=b&digest=d                           | d                 | -          | -
      x=%7E&digest=d%21                                    | d!                | -          | -
      """)
  void queriesReadAsGoReadsThem(String query, String digest, String mount, String from) {
    RequestTarget target = RequestTarget.parse("/v2/acme/app/blobs/uploads/", query);

    assertThat(target.problem()).isNull();
    assertThat(target.parameter("digest")).isEqualTo(digest);
    assertThat(target.parameter("mount")).isEqualTo(mount);
    assertThat(target.parameter("from")).isEqualTo(from);
  }

  @Test
  void theFirstOfARepeatedParameterIsWhatGoReads() {
    RequestTarget target = RequestTarget.parse("/v2/_catalog", "n=10&last=a&last=b");

    assertThat(target.canonical()).isTrue();
    assertThat(target.parameter("last")).isEqualTo("a");
    assertThat(target.parameter("n")).isEqualTo("10");
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(delimiter = '|', quoteCharacter = '"', textBlock = """
      # raw query                                   | why Go might read it otherwise
      digest=sha256:a;x&digest=sha256:b             | it contains ';', which the registry does not read as a separator
      x=1;digest=sha256:a                           | it contains ';', which the registry does not read as a separator
      n=1;2                                         | it contains ';', which the registry does not read as a separator
      digest=%zz&digest=sha256:b                    | malformed percent-escape in 'digest=%zz'
      _state=ab%3                                   | malformed percent-escape in '_state=ab%3'
      digest=sha256:a&digest=sha256:b               | 'digest' is given more than once
      mount=sha256:a&from=x&mount=sha256:a          | 'mount' is given more than once
      from=a&mount=sha256:a&from=b                  | 'from' is given more than once
      %64igest=sha256:a                             | the parameter name 'digest' is written '%64igest'
      digest=sha256:a&dig%65st=sha256:b             | the parameter name 'digest' is written 'dig%65st'
      """)
  void ambiguousQueriesUnderV2AreNamed(String query, String problem) {
    RequestTarget target = RequestTarget.parse("/v2/acme/app/blobs/uploads/u1", query);

    assertThat(target.canonical()).isFalse();
    assertThat(target.problem()).isEqualTo("the request query is ambiguous: " + problem);
    assertThat(target.path()).as("the path itself is fine").isEqualTo("/v2/acme/app/blobs/uploads/u1");
    assertThat(target.isRegistryApi()).isTrue();
  }

  @Test
  void queriesOutsideTheRegistryApiAreNotJudged() {
    assertThat(RequestTarget.parse("/", "a;b&x=%zz").canonical()).isTrue();
    assertThat(RequestTarget.parse("/v2x/a", "digest=a&digest=b").canonical()).isTrue();
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({"/v2,true", "/v2/,true", "/v2/_catalog,true", "/v2x,false", "/,false", "/v1/_ping,false", "/V2/,false"})
  void theRegistryApiIsV2AndWhatIsUnderIt(String path, boolean registryApi) {
    assertThat(RequestTarget.parse(path, null).isRegistryApi()).isEqualTo(registryApi);
  }
}
