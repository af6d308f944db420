package dev.quotaproxy.proxy.route;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class OciRequestClassifierTest {
  private static final String D = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

  @ParameterizedTest(name = "{0} {1}?{2} -> {3} {4}")
  @CsvSource(delimiter = '|', nullValues = "-", textBlock = """
      # method | path                                                | query                      | operation          | repository        | reference | digest | upload id | mount from
      GET      | /v2/                                                | -                          | API_VERSION_CHECK  | -                 | -         | -      | -         | -
      HEAD     | /v2                                                 | -                          | API_VERSION_CHECK  | -                 | -         | -      | -         | -
      GET      | /v2/_catalog                                        | n=100&last=a               | CATALOG            | -                 | -         | -      | -         | -
      GET      | /v2/acme/app/tags/list                              | n=10                       | TAGS_LIST          | acme/app          | -         | -      | -         | -
      GET      | /v2/acme/app/referrers/$D                           | artifactType=x             | REFERRERS          | acme/app          | -         | $D     | -         | -
      GET      | /v2/library/alpine/manifests/3.20                   | -                          | MANIFEST_GET       | library/alpine    | 3.20      | -      | -         | -
      HEAD     | /v2/library/alpine/manifests/$D                     | -                          | MANIFEST_HEAD      | library/alpine    | $D        | -      | -         | -
      PUT      | /v2/acme/team/app/manifests/v1.0_rc-2               | -                          | MANIFEST_PUT       | acme/team/app     | v1.0_rc-2 | -      | -         | -
      DELETE   | /v2/acme/app/manifests/$D                           | -                          | MANIFEST_DELETE    | acme/app          | $D        | -      | -         | -
      GET      | /v2/acme/app/blobs/$D                               | -                          | BLOB_GET           | acme/app          | -         | $D     | -         | -
      HEAD     | /v2/acme/app/blobs/$D                               | -                          | BLOB_HEAD          | acme/app          | -         | $D     | -         | -
      DELETE   | /v2/acme/app/blobs/$D                               | -                          | BLOB_DELETE        | acme/app          | -         | $D     | -         | -
      POST     | /v2/acme/app/blobs/uploads/                         | -                          | UPLOAD_START       | acme/app          | -         | -      | -         | -
      POST     | /v2/acme/app/blobs/uploads                          | -                          | UPLOAD_START       | acme/app          | -         | -      | -         | -
      POST     | /v2/acme/app/blobs/uploads/                         | digest=$D                  | UPLOAD_MONOLITHIC  | acme/app          | -         | $D     | -         | -
      POST     | /v2/acme/app/blobs/uploads/                         | mount=$D&from=acme%2Fbase  | BLOB_MOUNT         | acme/app          | -         | $D     | -         | acme/base
      POST     | /v2/acme/app/blobs/uploads/                         | mount=$D                   | BLOB_MOUNT         | acme/app          | -         | $D     | -         | -
      PATCH    | /v2/acme/app/blobs/uploads/5b0d4f8a-1c2e            | _state=abc%3D%3D           | UPLOAD_CHUNK       | acme/app          | -         | -      | 5b0d4f8a-1c2e | -
      PUT      | /v2/acme/app/blobs/uploads/5b0d4f8a-1c2e            | _state=abc&digest=$D       | UPLOAD_COMPLETE    | acme/app          | -         | $D     | 5b0d4f8a-1c2e | -
      PUT      | /v2/acme/app/blobs/uploads/5b0d4f8a-1c2e            | -                          | UPLOAD_COMPLETE    | acme/app          | -         | -      | 5b0d4f8a-1c2e | -
      GET      | /v2/acme/app/blobs/uploads/5b0d4f8a-1c2e            | -                          | UPLOAD_STATUS      | acme/app          | -         | -      | 5b0d4f8a-1c2e | -
      HEAD     | /v2/acme/app/blobs/uploads/5b0d4f8a-1c2e            | -                          | UPLOAD_STATUS      | acme/app          | -         | -      | 5b0d4f8a-1c2e | -
      DELETE   | /v2/acme/app/blobs/uploads/5b0d4f8a-1c2e            | -                          | UPLOAD_CANCEL      | acme/app          | -         | -      | 5b0d4f8a-1c2e | -
      # Components named like route markers belong to the name: routes are matched from the right.
      GET      | /v2/a/blobs/blobs/$D                                | -                          | BLOB_GET           | a/blobs           | -         | $D     | -         | -
      GET      | /v2/blobs/blobs/$D                                  | -                          | BLOB_GET           | blobs             | -         | $D     | -         | -
      PUT      | /v2/manifests/manifests/latest                      | -                          | MANIFEST_PUT       | manifests         | latest    | -      | -         | -
      GET      | /v2/x/manifests/y/blobs/$D                          | -                          | BLOB_GET           | x/manifests/y     | -         | $D     | -         | -
      POST     | /v2/a/blobs/uploads/blobs/uploads/                  | -                          | UPLOAD_START       | a/blobs/uploads   | -         | -      | -         | -
      PATCH    | /v2/a/manifests/blobs/uploads/id1                   | -                          | UPLOAD_CHUNK       | a/manifests       | -         | -      | id1       | -
      GET      | /v2/tags/tags/list                                  | -                          | TAGS_LIST          | tags              | -         | -      | -         | -
      GET      | /v2/a/manifests/tags/list                           | -                          | TAGS_LIST          | a/manifests       | -         | -      | -         | -
      GET      | /v2/_catalog/manifests/latest                       | -                          | OTHER              | -                 | -         | -      | -         | -
      # Separators the name grammar allows; query values decoded as Go does ('+' is a space there).
      GET      | /v2/my-org/my__app.v2/sub--x/manifests/latest      | -                          | MANIFEST_GET       | my-org/my__app.v2/sub--x | latest | -  | -         | -
      PUT      | /v2/a/blobs/uploads/u                               | digest=sha256%2Bb64u%3Aabc | UPLOAD_COMPLETE    | a                 | -         | sha256+b64u:abc | u | -
      PUT      | /v2/a/blobs/uploads/u                               | digest=sha256+b64u:abc     | UPLOAD_COMPLETE    | a                 | -         | sha256 b64u:abc | u | -
      PUT      | /v2/a/blobs/uploads/u                               | digest=$D&digest=sha256:0  | UPLOAD_COMPLETE    | a                 | -         | $D     | u         | -
      # A host as first component: distribution 2.8 routes and stores these names.
      GET      | /v2/Acme/app/manifests/latest                       | -                          | MANIFEST_GET       | Acme/app          | latest    | -      | -         | -
      POST     | /v2/Acme/app/blobs/uploads/                         | -                          | UPLOAD_START       | Acme/app          | -         | -      | -         | -
      PUT      | /v2/localhost:5000/app/manifests/v1                 | -                          | MANIFEST_PUT       | localhost:5000/app | v1       | -      | -         | -
      PATCH    | /v2/Registry.Example-1.com:443/a/b/blobs/uploads/u1 | -                          | UPLOAD_CHUNK       | Registry.Example-1.com:443/a/b | - | - | u1      | -
      GET      | /v2/Acme/manifests/latest                           | -                          | OTHER              | -                 | -         | -      | -         | -
      GET      | /v2/-acme/app/manifests/latest                      | -                          | OTHER              | -                 | -         | -      | -         | -
      GET      | /v2/acme/Team/manifests/latest                      | -                          | OTHER              | -                 | -         | -      | -         | -
      # A target the registry would read otherwise (RequestTarget) is never what it seems.
      GET      | /v2/acme/app/blobs/sha256%3Aabc                     | -                          | OTHER              | -                 | -         | -      | -         | -
      POST     | /v2/acme/app/blobs%2Fuploads/                       | -                          | OTHER              | -                 | -         | -      | -         | -
      POST     | /%762/acme/app/blobs/uploads/                       | -                          | OTHER              | -                 | -         | -      | -         | -
      PATCH    | /v2/acme/app/./blobs/uploads/u1                     | -                          | OTHER              | -                 | -         | -      | -         | -
      # Malformed names, references and routes are the registry's to refuse.
      GET      | /v2/acme//app/manifests/latest                      | -                          | OTHER              | -                 | -         | -      | -         | -
      GET      | /v2/acme/-app/manifests/latest                      | -                          | OTHER              | -                 | -         | -      | -         | -
      GET      | /v2/acme/app_/manifests/latest                      | -                          | OTHER              | -                 | -         | -      | -         | -
      GET      | /v2/acme/a___b/manifests/latest                     | -                          | OTHER              | -                 | -         | -      | -         | -
      GET      | /v2/acme/app/manifests/-latest                      | -                          | OTHER              | -                 | -         | -      | -         | -
      GET      | /v2/acme/app/manifests/                             | -                          | OTHER              | -                 | -         | -      | -         | -
      GET      | /v2/acme/app/blobs/latest                           | -                          | OTHER              | -                 | -         | -      | -         | -
      GET      | /v2/acme/app/blobs/SHA256:abc                       | -                          | OTHER              | -                 | -         | -      | -         | -
      GET      | /v2/manifests/latest                                | -                          | OTHER              | -                 | -         | -      | -         | -
      GET      | /v2/acme/app/blobs/uploads                          | -                          | OTHER              | -                 | -         | -      | -         | -
      GET      | /v2/acme/app/blobs/%zz                              | -                          | OTHER              | -                 | -         | -      | -         | -
      POST     | /v2/acme/app/manifests/latest                       | -                          | OTHER              | -                 | -         | -      | -         | -
      PUT      | /v2/acme/app/blobs/$D                               | -                          | OTHER              | -                 | -         | -      | -         | -
      POST     | /v2/acme/app/blobs/uploads/5b0d                     | -                          | OTHER              | -                 | -         | -      | -         | -
      patch    | /v2/acme/app/blobs/uploads/5b0d                     | -                          | OTHER              | -                 | -         | -      | -         | -
      PATCH    | /v2/acme/app/blobs/uploads/5b0d/                    | -                          | OTHER              | -                 | -         | -      | -         | -
      PUT      | /v2/acme/app/manifests/latest/                      | -                          | OTHER              | -                 | -         | -      | -         | -
      DELETE   | /v2/_catalog                                        | -                          | OTHER              | -                 | -         | -      | -         | -
      POST     | /v2/                                                | -                          | OTHER              | -                 | -         | -      | -         | -
      GET      | /v1/_ping                                           | -                          | OTHER              | -                 | -         | -      | -         | -
      GET      | /                                                   | -                          | OTHER              | -                 | -         | -      | -         | -
      GET      | /v2x/a/manifests/latest                             | -                          | OTHER              | -                 | -         | -      | -         | -
      """)
  void classifies(String method, String path, String query, OciOperation operation, String repository,
      String reference, String digest, String uploadId, String mountFrom) {
    OciRequest request = OciRequestClassifier.classify(method, expand(path), expand(query));

    assertThat(request).isEqualTo(new OciRequest(operation, repository, expand(reference), expand(digest), uploadId, mountFrom));
  }

  @ParameterizedTest
  @CsvSource({"255,true", "256,false"})
  void namesAreAtMost255Characters(int length, boolean valid) {
    String name = "a/" + "b".repeat(length - 2);
    OciRequest request = OciRequestClassifier.classify("GET", "/v2/" + name + "/tags/list", null);
    assertThat(request.operation()).isEqualTo(valid ? OciOperation.TAGS_LIST : OciOperation.OTHER);
  }

  private static String expand(String text) {
    return text == null ? null : text.replace("$D", D);
  }
}
