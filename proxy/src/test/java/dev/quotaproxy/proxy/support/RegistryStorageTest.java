package dev.quotaproxy.proxy.support;

import static dev.quotaproxy.proxy.support.OciTestClient.digest;
import static dev.quotaproxy.proxy.support.OciTestClient.image;
import static dev.quotaproxy.proxy.support.OciTestClient.randomBytes;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.ledger.support.RealRegistry;
import dev.quotaproxy.proxy.support.OciTestClient.Image;
import java.net.http.HttpRequest.BodyPublishers;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link RegistryStorage} against the files a real registry writes: pushes straight to it (no proxy),
 * then deletes and an abandoned upload, and the exact held sets that must come out.
 */
class RegistryStorageTest {
  private static RealRegistry registry;
  private static OciTestClient client;

  // acme/one: image one (config, base, ownOne) and a second manifest, deleted, over base and its own layer.
  private static final byte[] BASE = randomBytes(3000);
  private static final byte[] OWN_ONE = randomBytes(1000);
  private static final byte[] DELETED_OWN = randomBytes(700);
  private static final Image ONE = image(BASE, OWN_ONE);
  private static final Image DELETED = image(BASE, DELETED_OWN);
  // acme/team/two: image two (config, base, ownTwo), a loose blob kept and a loose blob deleted.
  private static final byte[] OWN_TWO = randomBytes(2000);
  private static final Image TWO = image(BASE, OWN_TWO);
  private static final byte[] LOOSE = randomBytes(500);
  private static final byte[] LOOSE_DELETED = randomBytes(400);
  private static final byte[] UPLOADING = randomBytes(1234);

  @BeforeAll
  static void push() throws Exception {
    registry = RealRegistry.start();
    client = new OciTestClient(registry.url());
    assertThat(client.pushImage("acme/one", "v1", ONE).status()).isEqualTo(201);
    assertThat(client.pushImage("acme/one", "gone", DELETED).status()).isEqualTo(201);
    assertThat(client.pushImage("acme/team/two", "v1", TWO).status()).isEqualTo(201);
    assertThat(client.pushBlob("acme/team/two", LOOSE).status()).isEqualTo(201);
    assertThat(client.pushBlob("acme/team/two", LOOSE_DELETED).status()).isEqualTo(201);
    assertThat(client.mount("other/x", digest(BASE), "acme/one").status()).isEqualTo(201);

    // A manifest delete frees its own layers; a layer delete under a live manifest frees nothing.
    assertThat(client.delete("/v2/acme/one/manifests/" + DELETED.manifestDigest()).status()).isEqualTo(202);
    assertThat(client.delete("/v2/acme/one/blobs/" + digest(OWN_ONE)).status()).isEqualTo(202);
    assertThat(client.delete("/v2/acme/team/two/blobs/" + digest(LOOSE_DELETED)).status()).isEqualTo(202);

    String location = client.startUpload("acme/team/two").header("Location").orElseThrow();
    assertThat(client.send("PATCH", location, BodyPublishers.ofByteArray(UPLOADING)).status()).isEqualTo(202);
  }

  @AfterAll
  static void stop() throws Exception {
    registry.close();
  }

  @Test
  void aRepositoryHoldsItsLiveManifestsTheirReferencesAndTheLayersNoDeletedManifestReferenced() {
    RegistryStorage storage = RegistryStorage.read(registry.storage());

    assertThat(storage.heldBy("acme/one"))
        .as("the unlinked layer stays: live manifest one references it; the deleted manifest's own blobs go")
        .containsExactlyInAnyOrder(ONE.manifestDigest(), digest(ONE.config()), digest(BASE), digest(OWN_ONE));
    assertThat(storage.heldBy("acme/team/two")).as("the loose blob stays linked; the deleted loose blob does not")
        .containsExactlyInAnyOrder(TWO.manifestDigest(), digest(TWO.config()), digest(BASE), digest(OWN_TWO), digest(LOOSE));
    assertThat(storage.heldBy("other/x")).containsExactly(digest(BASE));
  }

  @Test
  void theFilesSayWhatTheRuleIsAppliedTo() {
    RegistryStorage.Repository one = RegistryStorage.read(registry.storage()).repository("acme/one");

    assertThat(one.liveManifests()).containsExactly(ONE.manifestDigest());
    assertThat(one.deletedManifests()).containsExactly(DELETED.manifestDigest());
    assertThat(one.linkedLayers()).as("delete removes the link only; the manifest delete removes none")
        .containsExactlyInAnyOrder(digest(ONE.config()), digest(BASE), digest(DELETED.config()), digest(DELETED_OWN));
  }

  @Test
  void aScopeHoldsTheDistinctDigestsOfTheRepositoriesUnderIt() {
    RegistryStorage storage = RegistryStorage.read(registry.storage());

    assertThat(storage.scopes()).containsExactly("acme", "acme/one", "acme/team", "acme/team/two", "other", "other/x");
    assertThat(storage.held("acme/team")).isEqualTo(storage.heldBy("acme/team/two"));
    Set<String> acme = Set.of(ONE.manifestDigest(), digest(ONE.config()), digest(BASE), digest(OWN_ONE),
        TWO.manifestDigest(), digest(TWO.config()), digest(OWN_TWO), digest(LOOSE));
    assertThat(storage.held("acme")).containsExactlyInAnyOrderElementsOf(acme);
    assertThat(storage.heldBytes("acme")).as("base once")
        .isEqualTo(ONE.totalSize() + TWO.totalSize() - BASE.length + LOOSE.length);
    assertThat(storage.held(RegistryStorage.SYSTEM)).as("base, shared with other/x, once").containsExactlyInAnyOrderElementsOf(acme);
    assertThat(storage.heldBytes(RegistryStorage.SYSTEM)).isEqualTo(storage.heldBytes("acme"));
    assertThat(storage.size(digest(OWN_ONE))).isEqualTo(OWN_ONE.length);
    assertThat(storage.size(digest(randomBytes(10)))).isEqualTo(-1);
  }

  @Test
  void openUploadsAreNotHeldButReportedByRepository() {
    RegistryStorage storage = RegistryStorage.read(registry.storage());

    assertThat(storage.openUploads()).isEqualTo(Map.of("acme/team/two", (long) UPLOADING.length));
    assertThat(storage.openUploadBytes("acme")).isEqualTo(UPLOADING.length);
    assertThat(storage.openUploadBytes("other")).isZero();
    assertThat(storage.held("acme")).doesNotContain(digest(UPLOADING));
  }

  @Test
  void referencesAreReadAsTheRegistrysDecoderReadsThem() {
    String layer = digest(randomBytes(10));
    String hidden = digest(randomBytes(10));
    String config = digest(randomBytes(10));
    String child = digest(randomBytes(10));
    String manifest = """
        {"schemaVersion":2,"Config":{"digest":"%s","size":10},
         "layers":[{"digest":"%s","size":10}],"LAYERS":[{"DIGEST":"%s","size":10}],
         "manifests":[{"digest":"%s"},{"digest":"not a digest"},{"digest":12}],"annotations":{"digest":"sha256:00"}}
        """.formatted(config, layer, hidden, child);

    assertThat(RegistryStorage.references(manifest.getBytes(StandardCharsets.UTF_8)))
        .as("keys match ignoring case, the last one winning, as Go's encoding/json fills a struct")
        .containsExactlyInAnyOrder(config, hidden, child);
    assertThat(RegistryStorage.references("not json".getBytes(StandardCharsets.UTF_8))).isEmpty();
    assertThat(RegistryStorage.references("[1,2]".getBytes(StandardCharsets.UTF_8))).isEmpty();
  }
}
