package dev.quotaproxy.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.ledger.RepositoryDiff.Reference;
import dev.quotaproxy.ledger.registry.RepositoryInventory;
import dev.quotaproxy.ledger.registry.RepositoryInventory.Manifest;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class RepositoryDiffTest {
  private static final String M = "sha256:m";
  private static final String CONFIG = "sha256:c";
  private static final String LAYER = "sha256:l";
  private static final String UPLOAD = "sha256:u";

  private static final Manifest IMAGE = new Manifest(M, "application/vnd.oci.image.manifest.v1+json", 500, List.of(CONFIG, LAYER));

  private static RepositoryInventory inventory(Map<String, Long> blobs, Map<String, Manifest> manifests, Set<String> missing) {
    return new RepositoryInventory("acme/app", blobs, manifests, missing);
  }

  private static final RepositoryInventory TAGGED = inventory(Map.of(M, 500L, CONFIG, 10L, LAYER, 1000L), Map.of(M, IMAGE), Set.of());

  @Test
  void intoAnEmptyLedgerEverythingTheRegistryHoldsIsAdded() {
    LedgerRepository empty = new LedgerRepository("acme/app", Map.of(), Map.of());

    RepositoryDiff diff = RepositoryDiff.between(empty, TAGGED, Set.of());

    assertThat(diff.addBlobs()).isEqualTo(TAGGED.blobs());
    assertThat(diff.addManifests()).containsExactly(M);
    assertThat(diff.addReferences()).containsExactly(new Reference(M, CONFIG), new Reference(M, LAYER));
    assertThat(diff.dropBlobs()).isEmpty();
    assertThat(diff.dropManifests()).isEmpty();
  }

  @Test
  void aLedgerThatAgreesChangesNothing() {
    LedgerRepository same = new LedgerRepository("acme/app", TAGGED.blobs(), Map.of(M, Set.of(CONFIG, LAYER)));

    assertThat(RepositoryDiff.manifestsToCheck(same, TAGGED)).isEmpty();
    assertThat(RepositoryDiff.uploadsToCheck(same, TAGGED)).isEmpty();
    assertThat(RepositoryDiff.between(same, TAGGED, Set.of()).isEmpty()).isTrue();
  }

  @Test
  void anUploadNoManifestReferencedIsCheckedAndStaysWhileStored() {
    LedgerRepository withUpload = new LedgerRepository("acme/app",
        Map.of(M, 500L, CONFIG, 10L, LAYER, 1000L, UPLOAD, 77L), Map.of(M, Set.of(CONFIG, LAYER)));

    assertThat(RepositoryDiff.uploadsToCheck(withUpload, TAGGED)).containsExactly(UPLOAD);
    assertThat(RepositoryDiff.between(withUpload, TAGGED, Set.of(UPLOAD)).isEmpty()).isTrue();
    assertThat(RepositoryDiff.between(withUpload, TAGGED, Set.of()).dropBlobs()).containsExactly(UPLOAD);
  }

  @Test
  void aManifestGoneFromTheRegistryTakesTheBlobsOnlyItReferencedWithoutAsking() {
    LedgerRepository ledger = new LedgerRepository("acme/app", TAGGED.blobs(), Map.of(M, Set.of(CONFIG, LAYER)));
    RepositoryInventory nothing = RepositoryInventory.empty("acme/app");
    RepositoryInventory gone = inventory(Map.of(), Map.of(), Set.of(M)); // fetched by digest: 404

    assertThat(RepositoryDiff.manifestsToCheck(ledger, nothing)).containsExactly(M);
    assertThat(RepositoryDiff.uploadsToCheck(ledger, gone)).isEmpty();
    RepositoryDiff diff = RepositoryDiff.between(ledger, gone, Set.of());
    assertThat(diff.dropManifests()).containsExactly(M);
    assertThat(diff.dropBlobs()).containsExactlyInAnyOrder(M, CONFIG, LAYER);
    assertThat(diff.addBlobs()).isEmpty();
  }

  @Test
  void aLayerTheRegistryAnswers404ForLeavesThoughItsManifestStays() {
    LedgerRepository ledger = new LedgerRepository("acme/app", TAGGED.blobs(), Map.of(M, Set.of(CONFIG, LAYER)));
    RepositoryInventory layerDeleted = inventory(Map.of(M, 500L, CONFIG, 10L), Map.of(M, IMAGE), Set.of(LAYER));

    assertThat(RepositoryDiff.uploadsToCheck(ledger, layerDeleted)).isEmpty();
    RepositoryDiff diff = RepositoryDiff.between(ledger, layerDeleted, Set.of());
    assertThat(diff.dropBlobs()).containsExactly(LAYER);
    assertThat(diff.dropManifests()).isEmpty();
    assertThat(diff.dropReferences()).as("the manifest still names it").isEmpty();
  }

  @Test
  void referencesTheLedgerRecordedWronglyAreMadeRight() {
    LedgerRepository ledger = new LedgerRepository("acme/app", TAGGED.blobs(), Map.of(M, Set.of(CONFIG, "sha256:x")));

    RepositoryDiff diff = RepositoryDiff.between(ledger, TAGGED, Set.of());

    assertThat(diff.addReferences()).containsExactly(new Reference(M, LAYER));
    assertThat(diff.dropReferences()).containsExactly(new Reference(M, "sha256:x"));
  }
  private static final Instant T0 = Instant.parse("2026-12-07T10:00:00Z");

  @Test
  void whatEventsChangedBetweenTheReadAndTheCommitIsLeftToThem() {
    LedgerRepository read = new LedgerRepository("acme/app", Map.of(M, 500L, CONFIG, 10L, LAYER, 1000L, UPLOAD, 77L),
        Map.of(M, Set.of(CONFIG, LAYER)), Map.of(M, T0, CONFIG, T0, LAYER, T0, UPLOAD, T0), Map.of(M, T0));
    // The registry no longer has the upload or the image; a new manifest N is not yet in it.
    RepositoryDiff diff = RepositoryDiff.between(read, inventory(Map.of(), Map.of(), Set.of(M)), Set.of());
    assertThat(diff.dropBlobs()).containsExactlyInAnyOrder(M, CONFIG, LAYER, UPLOAD);

    // Meanwhile: the upload removed and pushed again (a new link time), and N pushed, referencing LAYER.
    Instant t1 = T0.plusSeconds(5);
    LedgerRepository now = new LedgerRepository("acme/app",
        Map.of(M, 500L, CONFIG, 10L, LAYER, 1000L, UPLOAD, 77L, "sha256:n", 300L),
        Map.of(M, Set.of(CONFIG, LAYER), "sha256:n", Set.of(LAYER)),
        Map.of(M, T0, CONFIG, T0, LAYER, T0, UPLOAD, t1, "sha256:n", t1), Map.of(M, T0, "sha256:n", t1));

    Set<String> changed = now.changedSince(read);
    assertThat(changed).containsExactlyInAnyOrder(UPLOAD, "sha256:n", LAYER);
    RepositoryDiff unchanged = diff.without(changed);
    assertThat(unchanged.dropBlobs()).containsExactlyInAnyOrder(M, CONFIG);
    assertThat(unchanged.dropManifests()).containsExactly(M);
    assertThat(read.changedSince(read)).isEmpty();
    assertThat(diff.without(Set.of())).isSameAs(diff);
  }

  @Test
  void aRepositoryGoneFromTheCatalogLeavesWithEverythingTheLedgerHeld() {
    LedgerRepository ledger = new LedgerRepository("acme/app", TAGGED.blobs(), Map.of(M, Set.of(CONFIG, LAYER)));

    RepositoryDiff gone = RepositoryDiff.vanished(ledger);

    assertThat(gone.dropBlobs()).containsExactlyInAnyOrder(M, CONFIG, LAYER);
    assertThat(gone.dropManifests()).containsExactly(M);
    assertThat(gone.addBlobs()).isEmpty();
  }
}
