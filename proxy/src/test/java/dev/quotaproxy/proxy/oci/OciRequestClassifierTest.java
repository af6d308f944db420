package dev.quotaproxy.proxy.oci;

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
      # Separators the name grammar allows, and percent-encoded digests.
      GET      | /v2/my-org/my__app.v2/sub--x/manifests/latest      | -                          | MANIFEST_GET       | my-org/my__app.v2/sub--x | latest | -  | -         | -
      GET      | /v2/acme/app/blobs/sha256%3Aabc                     | -                          | BLOB_GET           | acme/app          | -         | sha256:abc | -     | -
      PUT      | /v2/a/blobs/uploads/u                               | digest=sha256%2Bb64u%3Aabc | UPLOAD_COMPLETE    | a                 | -         | sha256+b64u:abc | u | -
      # Malformed names, references and routes are the registry's to refuse.
      GET      | /v2/Acme/app/manifests/latest                       | -                          | OTHER              | -                 | -         | -      | -         | -
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
