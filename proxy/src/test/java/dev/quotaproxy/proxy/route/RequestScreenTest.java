package dev.quotaproxy.proxy.route;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RequestScreenTest {
  private static final String HEX = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  private static final String UUID = "8848f794-f3ae-482a-b1f7-7c774f2f1ade";
  /** A real {@code _state} from distribution 2.8's Location header: base64url, its padding escaped. */
  private static final String STATE = "XVyi-FwVsKz6vDSZq6-x-NsOTC5XVU6JhOiYeyvL6cV7Ik5hbWUiOiJmb3JtL2FwcCIsIlVVSUQiOiI4ODQ4Zjc5NC1mM2FlLTQ4"
      + "MmEtYjFmNy03Yzc3NGYyZjFhZGUiLCJPZmZzZXQiOjAsIlN0YXJ0ZWRBdCI6IjIwMjYtMTItMDZUMTI6MzQ6MTMuOTI5MjQ1MDRaIn0%3D";

  /**
   * Requests as docker, containerd, podman and skopeo (containers/image), crane (go-containerregistry)
   * and oras send them, taken from their upload and pull paths: none may be refused.
   */
  @ParameterizedTest(name = "{0} {1}?{2}")
  @CsvSource(delimiter = '|', quoteCharacter = '"', nullValues = "-", textBlock = """
      # method | path                                         | query                                                  | content type                                          | body
      # every client: version check, catalog paging, tags, pulls
      GET      | /v2/                                         | -                                                      | -                                                     | false
      GET      | /v2                                          | -                                                      | -                                                     | false
      GET      | /v2/_catalog                                 | n=100&last=acme%2Fapp                                  | -                                                     | false
      GET      | /v2/acme/app/tags/list                       | n=1000&last=v1.2                                       | -                                                     | false
      HEAD     | /v2/library/alpine/manifests/3.20            | -                                                      | -                                                     | false
      GET      | /v2/library/alpine/manifests/sha256:$HEX     | -                                                      | -                                                     | false
      GET      | /v2/library/alpine/blobs/sha256:$HEX         | -                                                      | -                                                     | false
      HEAD     | /v2/library/alpine/blobs/sha256:$HEX         | -                                                      | -                                                     | false
      GET      | /v2/acme/app/referrers/sha256:$HEX           | artifactType=application%2Fvnd.example%2Bjson          | -                                                     | false
      # docker and containerd: start, one PUT with the blob, manifest
      POST     | /v2/acme/app/blobs/uploads/                  | -                                                      | -                                                     | false
      PUT      | /v2/acme/app/blobs/uploads/$UUID             | _state=$STATE&digest=sha256%3A$HEX                     | application/octet-stream                              | true
      PUT      | /v2/acme/app/manifests/v1                    | -                                                      | application/vnd.docker.distribution.manifest.v2+json  | true
      PUT      | /v2/acme/app/manifests/sha256:$HEX           | -                                                      | application/vnd.oci.image.index.v1+json               | true
      POST     | /v2/acme/app/blobs/uploads/                  | from=library%2Falpine&mount=sha256%3A$HEX              | -                                                     | false
      # podman and skopeo: chunked PATCH, empty closing PUT, mount, delete
      PATCH    | /v2/acme/app/blobs/uploads/$UUID             | _state=$STATE                                          | application/octet-stream                              | true
      PUT      | /v2/acme/app/blobs/uploads/$UUID             | _state=$STATE&digest=sha256%3A$HEX                     | -                                                     | false
      POST     | /v2/acme/app/blobs/uploads/                  | mount=sha256%3A$HEX&from=acme%2Fbase                   | -                                                     | false
      DELETE   | /v2/acme/app/manifests/sha256:$HEX           | -                                                      | -                                                     | false
      # crane and oras: PATCH without a type, status, cancel, upload URLs without the slash
      PATCH    | /v2/acme/app/blobs/uploads/$UUID             | _state=$STATE                                          | -                                                     | true
      GET      | /v2/acme/app/blobs/uploads/$UUID             | _state=$STATE                                          | -                                                     | false
      DELETE   | /v2/acme/app/blobs/uploads/$UUID             | _state=$STATE                                          | -                                                     | false
      POST     | /v2/acme/app/blobs/uploads                   | -                                                      | -                                                     | false
      POST     | /v2/acme/app/blobs/uploads/                  | digest=sha256%3A$HEX                                   | application/octet-stream                              | true
      PUT      | /v2/acme/app/manifests/v1                    | -                                                      | application/vnd.oci.image.manifest.v1+json; charset=x | true
      DELETE   | /v2/acme/app/blobs/sha256:$HEX               | -                                                      | -                                                     | false
      # an empty body carries no form, whatever its type: Python's urllib labels every empty PUT a form
      PUT      | /v2/acme/app/blobs/uploads/$UUID             | _state=$STATE&digest=sha256%3A$HEX                     | application/x-www-form-urlencoded                     | false
      POST     | /v2/acme/app/blobs/uploads/                  | -                                                      | multipart/form-data; boundary=x                       | false
      # unknown reads without a body go to the registry, which answers them
      GET      | /v2/acme/app/blobs/uploads                   | -                                                      | -                                                     | false
      GET      | /v2/acme/app/manifests/                      | -                                                      | application/x-www-form-urlencoded                     | false
      # outside /v2/ nothing is judged but the path
      GET      | /                                            | -                                                      | -                                                     | false
      POST     | /debug/anything                              | a;b                                                    | application/x-www-form-urlencoded                     | true
      """)
  void realClientRequestsPass(String method, String path, String query, String contentType, boolean body) {
    assertThat(screen(method, path, query, contentType == null ? List.of() : List.of(contentType), body)).isEmpty();
  }

  @ParameterizedTest(name = "{0} {1}?{2} [{3}] body={4}")
  @CsvSource(delimiter = '|', quoteCharacter = '"', nullValues = "-", textBlock = """
      # method | path                                      | query                                   | content type                                        | body  | message
      # the path is routed otherwise by the registry
      POST     | /v2/acme/app/blobs%2Fuploads/             | -                                       | -                                                   | false | the request path is not in canonical form: encoded '/' (%2F) in segment 4
      PUT      | /v2/acme/app/blobs%2Fuploads/$UUID        | _state=$STATE&digest=sha256:$HEX        | application/octet-stream                            | true  | the request path is not in canonical form: encoded '/' (%2F) in segment 4
      POST     | /%762/acme/app/blobs/uploads/             | -                                       | -                                                   | false | the request path is not in canonical form: '%76' in segment 1 encodes 'v', which needs no encoding
      GET      | /v2/acme/app/blobs/sha256%3A$HEX          | -                                       | -                                                   | false | the request path is not in canonical form: '%3A' in segment 5 encodes ':', which needs no encoding
      GET      | /%2e%2e/v2/                               | -                                       | -                                                   | false | the request path is not in canonical form: encoded '.' (%2e) in segment 1
      PATCH    | /v2/acme//app/blobs/uploads/$UUID         | -                                       | -                                                   | true  | the request path is not in canonical form: empty segment 3 ('//')
      # parameters the registry reads from a form body, where the proxy does not look
      PUT      | /v2/acme/app/blobs/uploads/$UUID          | _state=$STATE                           | application/x-www-form-urlencoded                   | true  | a form body (Content-Type: application/x-www-form-urlencoded) is not accepted on PUT requests: the registry would read parameters such as digest and mount from it
      PUT      | /v2/acme/app/blobs/uploads/$UUID          | _state=$STATE&digest=sha256:$HEX        | Application/X-WWW-Form-Urlencoded ; charset=utf-8   | true  | a form body (Content-Type: Application/X-WWW-Form-Urlencoded ; charset=utf-8) is not accepted on PUT requests: the registry would read parameters such as digest and mount from it
      PUT      | /v2/acme/app/blobs/uploads/$UUID          | _state=$STATE                           | multipart/form-data; boundary=x                     | true  | a form body (Content-Type: multipart/form-data; boundary=x) is not accepted on PUT requests: the registry would read parameters such as digest and mount from it
      POST     | /v2/acme/app/blobs/uploads/               | -                                       | application/x-www-form-urlencoded                   | true  | a form body (Content-Type: application/x-www-form-urlencoded) is not accepted on POST requests: the registry would read parameters such as digest and mount from it
      POST     | /v2/acme/app/blobs/uploads/               | -                                       | MULTIPART/FORM-DATA;boundary                        | true  | a form body (Content-Type: MULTIPART/FORM-DATA;boundary) is not accepted on POST requests: the registry would read parameters such as digest and mount from it
      PATCH    | /v2/acme/app/blobs/uploads/$UUID          | _state=$STATE                           | application/x-www-form-urlencoded;;;=               | true  | a form body (Content-Type: application/x-www-form-urlencoded;;;=) is not accepted on PATCH requests: the registry would read parameters such as digest and mount from it
      PUT      | /v2/acme/app/manifests/v1                 | -                                       | "	 application/x-www-form-urlencoded"                | true  | a form body (Content-Type: application/x-www-form-urlencoded) is not accepted on PUT requests: the registry would read parameters such as digest and mount from it
      PUT      | /v2/acme/app/manifests/v1                 | -                                       | application/x-www-form-urlencoded\u00c2\u00a0       | true  | a form body (Content-Type: application/x-www-form-urlencoded\u00c2\u00a0) is not accepted on PUT requests: the registry would read parameters such as digest and mount from it
      # requests that may write but are not operations the proxy meters
      PUT      | /v2/a/b/blobs/sha256:$HEX                 | -                                       | application/octet-stream                            | true  | PUT /v2/a/b/blobs/sha256:$HEX is not a registry operation this proxy recognises
      POST     | /v2/a/b/manifests/x                       | -                                       | application/vnd.oci.image.manifest.v1+json          | true  | POST /v2/a/b/manifests/x is not a registry operation this proxy recognises
      patch    | /v2/acme/app/blobs/uploads/$UUID          | _state=$STATE                           | application/octet-stream                            | true  | patch /v2/acme/app/blobs/uploads/$UUID is not a registry operation this proxy recognises
      put      | /v2/acme/app/manifests/v1                 | -                                       | application/vnd.oci.image.manifest.v1+json          | true  | put /v2/acme/app/manifests/v1 is not a registry operation this proxy recognises
      POST     | /v2/acme/app/blobs/uploads/$UUID          | _state=$STATE&mount=sha256:$HEX&from=x  | -                                                   | false | POST /v2/acme/app/blobs/uploads/$UUID is not a registry operation this proxy recognises
      PATCH    | /v2/acme/app/blobs/uploads/               | -                                       | application/octet-stream                            | true  | PATCH /v2/acme/app/blobs/uploads/ is not a registry operation this proxy recognises
      DELETE   | /v2/Acme/blobs/sha256:$HEX                | -                                       | -                                                   | false | DELETE /v2/Acme/blobs/sha256:$HEX is not a registry operation this proxy recognises
      OPTIONS  | /v2/                                      | -                                       | -                                                   | false | OPTIONS /v2/ is not a registry operation this proxy recognises
      POST     | /v2                                       | -                                       | -                                                   | true  | POST /v2 is not a registry operation this proxy recognises
      GET      | /v2/acme/app/blobs/uploads                | -                                       | -                                                   | true  | a GET of /v2/acme/app/blobs/uploads must not carry a body
      # a body where the operation carries none would reach the registry unmetered
      GET      | /v2/acme/app/manifests/latest             | -                                       | -                                                   | true  | GET /v2/acme/app/manifests/latest (MANIFEST_GET) must not carry a body
      HEAD     | /v2/acme/app/blobs/sha256:$HEX            | -                                       | -                                                   | true  | HEAD /v2/acme/app/blobs/sha256:$HEX (BLOB_HEAD) must not carry a body
      DELETE   | /v2/acme/app/manifests/latest             | -                                       | -                                                   | true  | DELETE /v2/acme/app/manifests/latest (MANIFEST_DELETE) must not carry a body
      DELETE   | /v2/acme/app/blobs/uploads/$UUID          | _state=$STATE                           | -                                                   | true  | DELETE /v2/acme/app/blobs/uploads/$UUID (UPLOAD_CANCEL) must not carry a body
      GET      | /v2/acme/app/blobs/uploads/$UUID          | _state=$STATE                           | -                                                   | true  | GET /v2/acme/app/blobs/uploads/$UUID (UPLOAD_STATUS) must not carry a body
      POST     | /v2/acme/app/blobs/uploads/               | -                                       | application/octet-stream                            | true  | POST /v2/acme/app/blobs/uploads/ (UPLOAD_START) must not carry a body
      POST     | /v2/acme/app/blobs/uploads/               | mount=sha256:$HEX&from=acme/base        | application/octet-stream                            | true  | POST /v2/acme/app/blobs/uploads/ (BLOB_MOUNT) must not carry a body
      GET      | /v2/_catalog                              | -                                       | -                                                   | true  | GET /v2/_catalog (CATALOG) must not carry a body
      # parameters Go would read otherwise than the proxy
      PUT      | /v2/acme/app/blobs/uploads/$UUID          | _state=$STATE&digest=sha256:$HEX&digest=sha256:0 | -                                          | false | the request query is ambiguous: 'digest' is given more than once
      PUT      | /v2/acme/app/blobs/uploads/$UUID          | digest=sha256:0;x&digest=sha256:$HEX    | -                                                   | false | the request query is ambiguous: it contains ';', which the registry does not read as a separator
      POST     | /v2/acme/app/blobs/uploads/               | %6Dount=sha256:$HEX&from=acme/base      | -                                                   | false | the request query is ambiguous: the parameter name 'mount' is written '%6Dount'
      GET      | /v2/_catalog                              | n=1;x                                   | -                                                   | false | the request query is ambiguous: it contains ';', which the registry does not read as a separator
      """)
  void refusesWhatTheRegistryMightExecuteOtherwise(String method, String path, String query, String contentType, boolean body,
      String message) {
    Optional<OciError> refusal = screen(method, path, query, contentType == null ? List.of() : List.of(contentType), body);

    assertThat(refusal).hasValueSatisfying(error -> {
      assertThat(error.status()).isEqualTo(400);
      assertThat(error.code()).isEqualTo("UNSUPPORTED");
      assertThat(error.message()).isEqualTo(expand(message));
    });
  }

  @Test
  void aFormTypeInAnyOfSeveralContentTypeHeadersIsRefused() {
    List<String> types = List.of("application/octet-stream", "multipart/form-data; boundary=b");

    assertThat(screen("PUT", "/v2/acme/app/blobs/uploads/$UUID", "_state=$STATE", types, true)).isPresent();
    assertThat(screen("PUT", "/v2/acme/app/blobs/uploads/$UUID", "_state=$STATE", types.subList(0, 1), true)).isEmpty();
  }

  @Test
  void theRefusalIsTheRegistrysErrorForm() {
    OciError error = screen("POST", "/v2/acme/app/blobs%2Fuploads/", null, List.of(), false).orElseThrow();

    assertThat(new JsonObject(error.body())).isEqualTo(new JsonObject().put("errors", new JsonArray().add(new JsonObject()
        .put("code", "UNSUPPORTED")
        .put("message", "the request path is not in canonical form: encoded '/' (%2F) in segment 4"))));
  }

  private static Optional<OciError> screen(String method, String path, String query, List<String> contentTypes, boolean body) {
    RequestTarget target = RequestTarget.parse(expand(path), expand(query));
    return RequestScreen.refusal(method, target, OciRequestClassifier.classify(method, target), contentTypes, body);
  }

  private static String expand(String text) {
    return text == null ? null : text.replace("$HEX", HEX).replace("$UUID", UUID).replace("$STATE", STATE);
  }
}
