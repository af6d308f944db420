package dev.quotaproxy.ledger.registry;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.ledger.registry.ManifestReader.Contents;
import dev.quotaproxy.ledger.registry.ManifestReader.Descriptor;
import io.vertx.core.buffer.Buffer;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ManifestReaderTest {
  private static final String A = "sha256:" + "a".repeat(64);
  private static final String B = "sha256:" + "b".repeat(64);
  private static final String C = "sha256:" + "c".repeat(64);

  private static Contents read(String contentType, String json) {
    return ManifestReader.read(contentType, Buffer.buffer(json), "test");
  }

  @ParameterizedTest
  @ValueSource(strings = {ManifestReader.OCI_MANIFEST, ManifestReader.DOCKER_MANIFEST})
  void anImageManifestReferencesItsConfigAndLayers(String type) {
    Contents contents = read(type, """
        {"schemaVersion":2,"mediaType":"%s",
         "config":{"digest":"%s","size":10},
         "layers":[{"digest":"%s","size":20},{"digest":"%s","size":30},{"digest":"%s","size":20}]}""".formatted(type, A, B, C, B));

    assertThat(contents.mediaType()).isEqualTo(type);
    assertThat(contents.blobs()).as("a layer listed twice is stored once")
        .containsExactly(new Descriptor(A, 10), new Descriptor(B, 20), new Descriptor(C, 30));
    assertThat(contents.manifests()).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(strings = {ManifestReader.OCI_INDEX, ManifestReader.DOCKER_LIST})
  void anIndexReferencesItsChildManifests(String type) {
    Contents contents = read(type + "; charset=utf-8", """
        {"schemaVersion":2,"manifests":[{"digest":"%s","size":500,"platform":{"os":"linux"}},{"digest":"%s","size":600}]}"""
        .formatted(A, B));

    assertThat(contents.mediaType()).isEqualTo(type);
    assertThat(contents.manifests()).containsExactly(new Descriptor(A, 500), new Descriptor(B, 600));
    assertThat(contents.blobs()).isEmpty();
  }

  @Test
  void theBodysMediaTypeWinsAndAnUntypedBodyShowsItsLayoutByItsFields() {
    assertThat(read("application/json", """
        {"manifests":[{"digest":"%s","size":1}]}""".formatted(A)).manifests()).hasSize(1);
    assertThat(read(null, """
        {"config":{"digest":"%s","size":1},"layers":[]}""".formatted(A)).blobs()).hasSize(1);
    assertThat(read("application/octet-stream", """
        {"mediaType":"%s","manifests":[{"digest":"%s","size":1}]}""".formatted(ManifestReader.OCI_INDEX, A)).mediaType())
        .isEqualTo(ManifestReader.OCI_INDEX);
  }

  @Test
  void aTypeWithoutAKnownLayoutReferencesNothing() {
    Contents schema1 = read("application/vnd.docker.distribution.manifest.v1+prettyjws", """
        {"schemaVersion":1,"fsLayers":[{"blobSum":"%s"}],"layers":[{"digest":"%s","size":1}]}""".formatted(A, A));

    assertThat(schema1.blobs()).isEmpty();
    assertThat(schema1.manifests()).isEmpty();
    assertThat(read(ManifestReader.OCI_MANIFEST, "not json").blobs()).isEmpty();
  }

  @Test
  void descriptorsThatCannotBeReadAreSkippedNotFatal() {
    Contents contents = read(ManifestReader.OCI_MANIFEST, """
        {"config":{"digest":"%s"},
         "layers":[{"digest":"../../etc","size":1},{"digest":"%s","size":-1},{"digest":"%s","size":1.5},"x",{"digest":"%s","size":7}]}"""
        .formatted(A, A, B, C));

    assertThat(contents.blobs()).containsExactly(new Descriptor(C, 7));
  }

  @Test
  void theAcceptHeaderNamesTheFourManifestTypes() {
    assertThat(List.of(ManifestReader.ACCEPT.split(", "))).containsExactlyInAnyOrder(
        ManifestReader.OCI_MANIFEST, ManifestReader.OCI_INDEX, ManifestReader.DOCKER_MANIFEST, ManifestReader.DOCKER_LIST);
  }
}
