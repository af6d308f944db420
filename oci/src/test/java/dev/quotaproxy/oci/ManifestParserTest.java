package dev.quotaproxy.oci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.quotaproxy.oci.ManifestParser.ManifestInvalidException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ManifestParserTest {
  private static final String CONFIG = "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7";
  private static final String LAYER1 = "sha256:43c4264eed91be63b206e17d93e75256a6097070ce643c5e8f0379998b44f170";
  private static final String LAYER2 = "sha256:7e2f5b6d8a4c3e9f1b0d2a6c8e4f7a9b3d5c1e0f2a4b6c8d0e2f4a6b8c0d2e4f";
  private static final String LAYER3 = "sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
  private static final String AMD64 = "sha256:1c2a5d0b8f4e6a3c9d7b5e1f0a2c4e6b8d0f2a4c6e8b0d2f4a6c8e0b2d4f6a8c";
  private static final String ARM64 = "sha256:2d3b6e1c9a5f7b4d0e8c6f2a1b3d5f7c9e1a3b5d7f9c1e3a5b7d9f1c3e5a7b9d";
  private static final String ATTESTATION = "sha256:3e4c7f2d0b6a8c5e1f9d7a3b2c4e6a8d0f2b4c6e8a0d2f4b6c8e0a2d4f6b8c0e";
  private static final String SUBJECT = "sha256:4f5d8a3e1c7b9d6f2a0e8b4c3d5f7b9e1a3c5d7f9b1e3a5c7d9f1b3e5a7c9d1f";

  private static final String OCI_IMAGE = """
      {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
          "mediaType": "application/vnd.oci.image.config.v1+json",
          "digest": "%s",
          "size": 1472
        },
        "layers": [
          {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "%s", "size": 3623807},
          {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "%s", "size": 29150012},
          {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "%s", "size": 512}
        ],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "%s", "size": 1024},
        "annotations": {"org.opencontainers.image.created": "2024-05-01T10:00:00Z"}
      }
      """.formatted(CONFIG, LAYER1, LAYER2, LAYER3, SUBJECT);

  private static final String DOCKER_IMAGE = """
      {
         "schemaVersion": 2,
         "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
         "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 7023,
            "digest": "%s"
         },
         "layers": [
            {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 32654, "digest": "%s"},
            {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 16724, "digest": "%s"}
         ]
      }
      """.formatted(CONFIG, LAYER1, LAYER2);

  private static final String OCI_INDEX = """
      {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
          {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "%s", "size": 1402,
           "platform": {"architecture": "amd64", "os": "linux"}},
          {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "%s", "size": 1402,
           "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
          {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "%s", "size": 566,
           "annotations": {"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": "%s"},
           "platform": {"architecture": "unknown", "os": "unknown"}}
        ]
      }
      """.formatted(AMD64, ARM64, ATTESTATION, AMD64);

  private static final String DOCKER_LIST = """
      {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": [
          {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 528, "digest": "%s",
           "platform": {"architecture": "amd64", "os": "linux"}},
          {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 528, "digest": "%s",
           "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}}
        ]
      }
      """.formatted(AMD64, ARM64);

  @Test
  void ociImageManifestReferencesItsConfigAndEveryLayerButNotItsSubject() {
    ParsedManifest parsed = ManifestParser.parse(MediaTypes.OCI_IMAGE_MANIFEST, bytes(OCI_IMAGE));

    assertThat(parsed.mediaType()).isEqualTo(MediaTypes.OCI_IMAGE_MANIFEST);
    assertThat(parsed.references()).containsExactly(
        new Blob(CONFIG, 1472), new Blob(LAYER1, 3623807), new Blob(LAYER2, 29150012), new Blob(LAYER3, 512));
  }

  @Test
  void dockerImageManifestReferencesItsConfigAndEveryLayer() {
    ParsedManifest parsed = ManifestParser.parse(MediaTypes.DOCKER_MANIFEST, bytes(DOCKER_IMAGE));

    assertThat(parsed.mediaType()).isEqualTo(MediaTypes.DOCKER_MANIFEST);
    assertThat(parsed.references()).containsExactly(new Blob(CONFIG, 7023), new Blob(LAYER1, 32654), new Blob(LAYER2, 16724));
  }

  @Test
  void ociIndexReferencesEveryManifestIncludingAttestations() {
    ParsedManifest parsed = ManifestParser.parse(MediaTypes.OCI_IMAGE_INDEX, bytes(OCI_INDEX));

    assertThat(parsed.mediaType()).isEqualTo(MediaTypes.OCI_IMAGE_INDEX);
    assertThat(parsed.references()).containsExactly(new Blob(AMD64, 1402), new Blob(ARM64, 1402), new Blob(ATTESTATION, 566));
  }

  @Test
  void dockerManifestListReferencesEveryManifest() {
    ParsedManifest parsed = ManifestParser.parse(MediaTypes.DOCKER_MANIFEST_LIST, bytes(DOCKER_LIST));

    assertThat(parsed.mediaType()).isEqualTo(MediaTypes.DOCKER_MANIFEST_LIST);
    assertThat(parsed.references()).containsExactly(new Blob(AMD64, 528), new Blob(ARM64, 528));
  }

  @Test
  void ownDigestAndSizeAreOfTheBytesExactlyAsSent() throws Exception {
    byte[] body = bytes(OCI_IMAGE);
    String expected = "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body));

    ParsedManifest parsed = ManifestParser.parse(MediaTypes.OCI_IMAGE_MANIFEST, body);

    assertThat(parsed.digest()).isEqualTo(expected);
    assertThat(parsed.size()).isEqualTo(body.length);
    assertThat(parsed.blob()).isEqualTo(new Blob(expected, body.length));
    // The same document with other whitespace is another manifest.
    assertThat(ManifestParser.parse(MediaTypes.OCI_IMAGE_MANIFEST, bytes(OCI_IMAGE.strip())).digest()).isNotEqualTo(expected);
  }

  @Test
  void theSizeCheckRefusesABodyItWasOnlyToldTheLengthOf() {
    ManifestParser.requireWithinLimit(ManifestParser.MAX_MANIFEST_BYTES);
    assertThatThrownBy(() -> ManifestParser.requireWithinLimit(ManifestParser.MAX_MANIFEST_BYTES + 1L))
        .isInstanceOf(ManifestInvalidException.class)
        .hasMessage("manifest is 4194305 bytes, over the limit of 4194304 bytes (4.0 MiB)");
  }

  @Test
  void digestOfTheEmptyBody() {
    assertThat(ManifestParser.parse("application/vnd.example.empty", new byte[0]))
        .isEqualTo(new ParsedManifest("application/vnd.example.empty",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 0, List.of()));
  }

  @ParameterizedTest(name = "[{0}] {1}")
  @CsvSource(delimiter = '|', nullValues = "-", textBlock = """
      # Content-Type                                                  | body          | understood as
      application/vnd.oci.image.manifest.v1+json; charset=utf-8       | OCI_IMAGE     | application/vnd.oci.image.manifest.v1+json
      'Application/VND.OCI.Image.Index.v1+JSON ; charset=""'          | OCI_INDEX     | application/vnd.oci.image.index.v1+json
      -                                                               | OCI_IMAGE     | application/vnd.oci.image.manifest.v1+json
      ''                                                              | DOCKER_IMAGE  | application/vnd.docker.distribution.manifest.v2+json
      application/json                                                | OCI_INDEX     | application/vnd.oci.image.index.v1+json
      application/json; charset=utf-8                                 | DOCKER_LIST   | application/vnd.docker.distribution.manifest.list.v2+json
      application/octet-stream                                        | DOCKER_IMAGE  | application/vnd.docker.distribution.manifest.v2+json
      """)
  void mediaTypeComesFromTheHeaderOrElseFromTheBody(String contentType, String bodyName, String understoodAs) {
    String body = switch (bodyName) {
      case "OCI_IMAGE" -> OCI_IMAGE;
      case "DOCKER_IMAGE" -> DOCKER_IMAGE;
      case "OCI_INDEX" -> OCI_INDEX;
      default -> DOCKER_LIST;
    };

    ParsedManifest parsed = ManifestParser.parse(contentType, bytes(body));

    assertThat(parsed.mediaType()).isEqualTo(understoodAs);
    assertThat(parsed.references()).isNotEmpty();
  }

  @Test
  void withoutAnyMediaTypeTheFieldsTellAnIndexFromAnImage() {
    String image = withoutMediaType(DOCKER_IMAGE);
    String index = withoutMediaType(OCI_INDEX);
    assertThat(((Map<?, ?>) GoJson.decode(bytes(image), GoJson.Mode.STRICT)).containsKey("mediaType")).isFalse();
    assertThat(((Map<?, ?>) GoJson.decode(bytes(index), GoJson.Mode.STRICT)).containsKey("mediaType")).isFalse();

    assertThat(ManifestParser.parse(null, bytes(image)))
        .extracting(ParsedManifest::mediaType, ParsedManifest::references)
        .containsExactly(MediaTypes.OCI_IMAGE_MANIFEST,
            List.of(new Blob(CONFIG, 7023), new Blob(LAYER1, 32654), new Blob(LAYER2, 16724)));
    assertThat(ManifestParser.parse("application/json", bytes(index)))
        .extracting(ParsedManifest::mediaType, ParsedManifest::references)
        .containsExactly(MediaTypes.OCI_IMAGE_INDEX,
            List.of(new Blob(AMD64, 1402), new Blob(ARM64, 1402), new Blob(ATTESTATION, 566)));
  }

  @Test
  void headerNamingAKnownTypeNeedsNoMediaTypeInTheBody() {
    assertThat(ManifestParser.parse(MediaTypes.DOCKER_MANIFEST, bytes(withoutMediaType(DOCKER_IMAGE))).references())
        .hasSize(3);
  }

  @Test
  void oldOciArtifactManifestReferencesItsBlobsButNotItsSubject() {
    String artifact = """
        {
          "mediaType": "application/vnd.oci.artifact.manifest.v1+json",
          "artifactType": "application/vnd.example.sbom.v1",
          "blobs": [
            {"mediaType": "application/vnd.example.sbom.v1+json", "digest": "%s", "size": 8123},
            {"mediaType": "application/vnd.example.signature", "digest": "%s", "size": 77}
          ],
          "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "%s", "size": 1024}
        }
        """.formatted(LAYER1, LAYER2, SUBJECT);

    assertThat(ManifestParser.parse(MediaTypes.OCI_ARTIFACT_MANIFEST, bytes(artifact)).references())
        .containsExactly(new Blob(LAYER1, 8123), new Blob(LAYER2, 77));
    assertThat(ManifestParser.parse(null, bytes(artifact)).mediaType()).isEqualTo(MediaTypes.OCI_ARTIFACT_MANIFEST);
  }

  @Test
  void blobsOfAnImageManifestAreReferencesToo() {
    String image = """
        {"mediaType": "application/vnd.oci.image.manifest.v1+json",
         "config": {"digest": "%s", "size": 2},
         "layers": [],
         "blobs": [{"digest": "%s", "size": 9}]}
        """.formatted(CONFIG, LAYER1);

    assertThat(ManifestParser.parse(null, bytes(image)).references()).containsExactly(new Blob(CONFIG, 2), new Blob(LAYER1, 9));
  }

  @Test
  void artifactWithAnEmptyConfigAndNullFieldsIsFine() {
    String artifact = """
        {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
         "artifactType": "application/vnd.cncf.helm.chart.v1",
         "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                    "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2},
         "layers": [{"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "digest": "%s", "size": 3821}],
         "blobs": null,
         "annotations": null}
        """.formatted(LAYER1);

    assertThat(ManifestParser.parse(MediaTypes.OCI_IMAGE_MANIFEST, bytes(artifact)).references()).containsExactly(
        new Blob("sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", 2), new Blob(LAYER1, 3821));
  }

  @Test
  void duplicateReferencesAreKeptOnceInFirstOrder() {
    String image = """
        {"mediaType": "application/vnd.oci.image.manifest.v1+json",
         "config": {"digest": "%1$s", "size": 100},
         "layers": [{"digest": "%2$s", "size": 5}, {"digest": "%1$s", "size": 100}, {"digest": "%2$s", "size": 5}]}
        """.formatted(LAYER1, LAYER2);

    assertThat(ManifestParser.parse(null, bytes(image)).references()).containsExactly(new Blob(LAYER1, 100), new Blob(LAYER2, 5));
  }

  @ParameterizedTest(name = "[{0}] {1}")
  @CsvSource(delimiter = '|', nullValues = "-", textBlock = """
      # Content-Type                                                 | body                                                          | understood as
      application/vnd.docker.distribution.manifest.v1+prettyjws       | '{"schemaVersion":1,"name":"a","fsLayers":[{"blobSum":"sha256:aa"}],"signatures":[]}' | application/vnd.docker.distribution.manifest.v1+prettyjws
      application/vnd.docker.distribution.manifest.v1+json            | '{"schemaVersion":1,"fsLayers":[]}'                           | application/vnd.docker.distribution.manifest.v1+json
      application/vnd.example.artifact.v1                             | not json at all                                               | application/vnd.example.artifact.v1
      application/vnd.example.artifact.v1                             | '{"layers":"whatever"}'                                       | application/vnd.example.artifact.v1
      application/json                                                | '{"mediaType":"application/vnd.example.thing","layers":[1]}'  | application/vnd.example.thing
      application/json                                                | not json at all                                               | application/json
      -                                                               | '[1,2,3]'                                                     | ''
      -                                                               | '{"schemaVersion":2}'                                         | ''
      application/octet-stream                                        | '{"schemaVersion":2}'                                         | application/octet-stream
      """)
  void unknownTypesCountTheirOwnBytesOnly(String contentType, String body, String understoodAs) {
    ParsedManifest parsed = ManifestParser.parse(contentType, bytes(body));

    assertThat(parsed.mediaType()).isEqualTo(understoodAs);
    assertThat(parsed.references()).isEmpty();
    assertThat(parsed.size()).isEqualTo(bytes(body).length);
  }

  private static final String D = "sha256:43c4264eed91be63b206e17d93e75256a6097070ce643c5e8f0379998b44f170";

  @ParameterizedTest(name = "[{0}] {1}")
  @CsvSource(delimiter = '|', nullValues = "-", textBlock = """
      # Content-Type                                   | body                                                                | message
      application/vnd.oci.image.manifest.v1+json         | ''                                                                  | manifest is not valid JSON
      application/vnd.oci.image.manifest.v1+json         | '{"config": {'                                                      | manifest is not valid JSON
      application/vnd.oci.image.manifest.v1+json         | '{"layers": []} trailing'                                           | manifest is not valid JSON
      application/vnd.oci.image.index.v1+json            | '[{"digest": "$D", "size": 1}]'                                     | manifest is not a JSON object
      application/vnd.oci.image.index.v1+json            | '"a string"'                                                        | manifest is not a JSON object
      application/vnd.oci.image.index.v1+json            | null                                                                | manifest is not a JSON object
      application/vnd.oci.image.manifest.v1+json         | '{"layers": {"digest": "$D", "size": 1}}'                           | layers must be an array
      application/vnd.docker.distribution.manifest.v2+json | '{"layers": "$D"}'                                                | layers must be an array
      application/vnd.oci.image.manifest.v1+json         | '{"layers": [], "blobs": {}}'                                       | blobs must be an array
      application/vnd.oci.image.index.v1+json            | '{"manifests": {"digest": "$D", "size": 1}}'                        | manifests must be an array
      application/vnd.docker.distribution.manifest.list.v2+json | '{"manifests": 3}'                                           | manifests must be an array
      application/vnd.oci.image.manifest.v1+json         | '{"layers": ["$D"]}'                                                | layers[0] must be an object with a digest and a size
      application/vnd.oci.image.manifest.v1+json         | '{"config": "$D", "layers": []}'                                    | config must be an object with a digest and a size
      application/vnd.oci.image.manifest.v1+json         | '{"config": {"size": 2}, "layers": []}'                             | config has no valid digest
      application/vnd.oci.image.manifest.v1+json         | '{"layers": [{"digest": "$D", "size": 1}, {"size": 1}]}'            | layers[1] has no valid digest
      application/vnd.oci.image.manifest.v1+json         | '{"layers": [{"digest": "SHA256:abc", "size": 1}]}'                 | layers[0] has no valid digest
      application/vnd.oci.image.manifest.v1+json         | '{"layers": [{"digest": "sha256", "size": 1}]}'                     | layers[0] has no valid digest
      application/vnd.oci.image.manifest.v1+json         | '{"layers": [{"digest": "sha256:ab/../cd", "size": 1}]}'            | layers[0] has no valid digest
      application/vnd.oci.image.manifest.v1+json         | '{"layers": [{"digest": 12, "size": 1}]}'                           | layers[0] has no valid digest
      application/vnd.oci.image.index.v1+json            | '{"manifests": [{"digest": null, "size": 1}]}'                      | manifests[0] has no valid digest
      application/vnd.oci.image.manifest.v1+json         | '{"layers": [{"digest": "$D"}]}'                                    | layers[0] has no valid size: it must be a whole number of bytes, 0 or more
      application/vnd.oci.image.manifest.v1+json         | '{"layers": [{"digest": "$D", "size": -1}]}'                        | layers[0] has no valid size: it must be a whole number of bytes, 0 or more
      application/vnd.oci.image.manifest.v1+json         | '{"layers": [{"digest": "$D", "size": "12"}]}'                      | layers[0] has no valid size: it must be a whole number of bytes, 0 or more
      application/vnd.oci.image.manifest.v1+json         | '{"layers": [{"digest": "$D", "size": 12.5}]}'                      | layers[0] has no valid size: it must be a whole number of bytes, 0 or more
      application/vnd.oci.image.manifest.v1+json         | '{"layers": [{"digest": "$D", "size": 12.0}]}'                      | layers[0] has no valid size: it must be a whole number of bytes, 0 or more
      application/vnd.oci.image.manifest.v1+json         | '{"layers": [{"digest": "$D", "size": 1e3}]}'                       | layers[0] has no valid size: it must be a whole number of bytes, 0 or more
      application/vnd.oci.image.manifest.v1+json         | '{"layers": [{"digest": "$D", "size": 9223372036854775808}]}'       | layers[0] has no valid size: it must be a whole number of bytes, 0 or more
      application/vnd.oci.image.manifest.v1+json         | '{"layers": [{"digest": "$D", "size": true}]}'                      | layers[0] has no valid size: it must be a whole number of bytes, 0 or more
      application/vnd.oci.image.index.v1+json            | '{"manifests": [{"digest": "$D", "size": null}]}'                   | manifests[0] has no valid size: it must be a whole number of bytes, 0 or more
      application/vnd.oci.image.manifest.v1+json         | '{"layers": [{"digest": "$D", "size": 1}, {"digest": "$D", "size": 2}]}' | $D is listed with two sizes, 1 and 2
      application/vnd.oci.image.manifest.v1+json         | '{"mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}' | mediaType application/vnd.oci.image.index.v1+json in the manifest does not match the Content-Type application/vnd.oci.image.manifest.v1+json
      application/vnd.oci.image.manifest.v1+json         | '{"mediaType": 2, "layers": []}'                                    | mediaType must be a string
      application/json                                   | '{"mediaType": ["x"], "layers": []}'                                | mediaType must be a string
      application/json                                   | '{"mediaType": "application/vnd.oci.image.manifest.v1+json", "layers": 1}' | layers must be an array
      -                                                  | '{"layers": [{"digest": "$D", "size": -5}]}'                        | layers[0] has no valid size: it must be a whole number of bytes, 0 or more
      -                                                  | '{"manifests": [{"digest": "nope", "size": 5}]}'                    | manifests[0] has no valid digest
      """)
  void malformedManifestsOfKnownTypesAreRefusedWithAClearMessage(String contentType, String body, String message) {
    byte[] bytes = bytes(body == null ? "null" : body.replace("$D", D));

    assertThatThrownBy(() -> ManifestParser.parse(contentType, bytes))
        .isInstanceOf(ManifestInvalidException.class)
        .hasMessage(message.replace("$D", D));
  }

  @Test
  void bodiesOverFourMebibytesAreRefusedWhateverTheirType() {
    byte[] tooLarge = new byte[ManifestParser.MAX_MANIFEST_BYTES + 1];
    Arrays.fill(tooLarge, (byte) ' ');

    assertThat(ManifestParser.MAX_MANIFEST_BYTES).isEqualTo(4 * 1024 * 1024);
    for (String contentType : new String[] {MediaTypes.OCI_IMAGE_MANIFEST, "application/vnd.example.blob", null}) {
      assertThatThrownBy(() -> ManifestParser.parse(contentType, tooLarge))
          .isInstanceOf(ManifestInvalidException.class)
          .hasMessage("manifest is 4194305 bytes, over the limit of 4194304 bytes (4.0 MiB)");
      assertThatThrownBy(() -> ManifestParser.parse(contentType, tooLarge))
          .isInstanceOf(ManifestInvalidException.class);
    }
  }

  @Test
  void aBodyOfExactlyTheLimitIsAccepted() {
    String padding = " ".repeat(ManifestParser.MAX_MANIFEST_BYTES - OCI_IMAGE.length());
    byte[] body = bytes(OCI_IMAGE + padding);

    assertThat(body).hasSize(ManifestParser.MAX_MANIFEST_BYTES);
    assertThat(ManifestParser.parse(MediaTypes.OCI_IMAGE_MANIFEST, body).references()).hasSize(4);
  }

  @Test
  void fieldsInAnotherCaseAreReadAsTheRegistryReadsThem() {
    String folded = OCI_IMAGE.replace("\"layers\"", "\"LAYERS\"").replace("\"config\"", "\"Config\"")
        .replace("\"digest\"", "\"Digest\"");

    assertThat(ManifestParser.parse(MediaTypes.OCI_IMAGE_MANIFEST, bytes(folded)).references())
        .extracting(Blob::digest).containsExactly(CONFIG, LAYER1, LAYER2, LAYER3);
  }

  @Test
  void aFieldGivenTwiceInAnyCaseIsRefused() {
    String twice = OCI_IMAGE.replace("\"layers\": [", "\"layers\": [], \"LAYERS\": [");

    assertThatThrownBy(() -> ManifestParser.parse(MediaTypes.OCI_IMAGE_MANIFEST, bytes(twice)))
        .isInstanceOf(ManifestInvalidException.class)
        .hasMessageContaining("\"layers\" and \"LAYERS\"");
  }

  @Test
  void aMediaTypeInAnotherCaseStillHasToMatchTheHeader() {
    String hidden = OCI_IMAGE.replace("\"mediaType\": \"application/vnd.oci.image.manifest.v1+json\"",
        "\"MediaType\": \"application/vnd.oci.image.index.v1+json\"");

    assertThatThrownBy(() -> ManifestParser.parse(MediaTypes.OCI_IMAGE_MANIFEST, bytes(hidden)))
        .isInstanceOf(ManifestInvalidException.class)
        .hasMessageContaining("does not match the Content-Type");
  }

  @Test
  void moreReferencesThanTheCapAreRefusedNamingIt() {
    assertThat(ManifestParser.parse(MediaTypes.OCI_IMAGE_MANIFEST, bytes(OCI_IMAGE), 4).references()).hasSize(4);
    assertThatThrownBy(() -> ManifestParser.parse(MediaTypes.OCI_IMAGE_MANIFEST, bytes(OCI_IMAGE), 3))
        .isInstanceOf(ManifestInvalidException.class)
        .hasMessage("manifest lists more than 3 references, the most this proxy accepts in one manifest (quota.max-manifest-references)");
  }

  private static String withoutMediaType(String manifest) {
    return manifest.replaceFirst("\"mediaType\": \"application/vnd\\.(oci|docker)[^\"]*(manifest|index)[^\"]*\",", "");
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }
}
