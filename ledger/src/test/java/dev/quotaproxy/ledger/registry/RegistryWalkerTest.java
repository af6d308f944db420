package dev.quotaproxy.ledger.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.quotaproxy.ledger.registry.RegistryWalker.WalkResult;
import dev.quotaproxy.ledger.registry.RepositoryInventory.Manifest;
import dev.quotaproxy.ledger.support.RealRegistry;
import dev.quotaproxy.ledger.support.RegistryPusher;
import dev.quotaproxy.ledger.support.RegistryPusher.Pushed;
import dev.quotaproxy.ledger.support.SampleImages;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The walker against a real registry, pages of two so every listing takes several. */
class RegistryWalkerTest {
  private static RealRegistry registry;
  private static SampleImages images;
  private static Vertx vertx;
  private static RegistryWalker walker;

  @BeforeAll
  static void start() throws Exception {
    registry = RealRegistry.start();
    images = SampleImages.push(new RegistryPusher(registry.url()));
    vertx = Vertx.vertx();
    walker = new RegistryWalker(vertx, WalkerOptions.of(URI.create(registry.url())).withPageSize(2).withConcurrency(3));
  }

  @AfterAll
  static void stop() throws Exception {
    if (vertx != null) {
      walker.close();
      vertx.close().await(10, TimeUnit.SECONDS);
    }
    if (registry != null) {
      registry.close();
    }
  }

  @Test
  void aWalkHandsEveryRepositoryOverInCatalogOrderAcrossCatalogPages() throws Exception {
    List<String> seen = new ArrayList<>();

    WalkResult result = walker.walk(null, inventory -> {
      seen.add(inventory.repository());
      return Future.succeededFuture();
    }).await(20, TimeUnit.SECONDS);

    assertThat(seen).containsExactly(SampleImages.APP, SampleImages.CLI, SampleImages.WEB, SampleImages.SCRATCH);
    assertThat(result).isEqualTo(new WalkResult(4, SampleImages.SCRATCH, true));
    assertThat(walker.catalog().await(10, TimeUnit.SECONDS)).isEqualTo(seen);
  }

  @Test
  void aWalkResumesAfterTheRepositoryGivenAndStopsAtItsLimit() throws Exception {
    List<String> seen = new ArrayList<>();
    RepositoryVisitor<String> visitor = new RepositoryVisitor<>() {
      @Override
      public Future<String> prepare(String repository) {
        return Future.succeededFuture(repository);
      }

      @Override
      public Future<Void> commit(String repository, String prepared) {
        seen.add(prepared);
        return Future.succeededFuture();
      }
    };

    WalkResult rest = walker.walkCatalog(SampleImages.APP, Integer.MAX_VALUE, visitor).await(10, TimeUnit.SECONDS);
    assertThat(seen).containsExactly(SampleImages.CLI, SampleImages.WEB, SampleImages.SCRATCH);
    assertThat(rest.complete()).isTrue();

    seen.clear();
    WalkResult limited = walker.walkCatalog(null, 3, visitor).await(10, TimeUnit.SECONDS);
    assertThat(seen).containsExactly(SampleImages.APP, SampleImages.CLI, SampleImages.WEB);
    assertThat(limited).isEqualTo(new WalkResult(3, SampleImages.WEB, false));
  }

  @Test
  void aFailedCommitStopsTheWalkWithTheEarlierRepositoriesCommitted() {
    List<String> committed = new ArrayList<>();
    Future<WalkResult> walk = walker.walkCatalog(null, Integer.MAX_VALUE, new RepositoryVisitor<String>() {
      @Override
      public Future<String> prepare(String repository) {
        return Future.succeededFuture(repository);
      }

      @Override
      public Future<Void> commit(String repository, String prepared) {
        if (repository.equals(SampleImages.WEB)) {
          return Future.failedFuture(new IllegalStateException("the ledger went away"));
        }
        committed.add(repository);
        return Future.succeededFuture();
      }
    });

    assertThatThrownBy(() -> walk.await(10, TimeUnit.SECONDS)).hasMessageContaining("the ledger went away");
    assertThat(committed).containsExactly(SampleImages.APP, SampleImages.CLI);
  }

  @Test
  void anImageRepositoryHoldsItsManifestConfigAndLayersWhateverTheNumberOfTagPages() throws Exception {
    RepositoryInventory app = walker.walkRepository(SampleImages.APP).await(10, TimeUnit.SECONDS);

    assertThat(app.blobs()).isEqualTo(sizes(images.app, images.appConfig, images.base, images.appLayer));
    assertThat(app.manifests()).containsOnlyKeys(images.app.digest());
    Manifest manifest = app.manifests().get(images.app.digest());
    assertThat(manifest.mediaType()).isEqualTo(RegistryPusher.OCI_MANIFEST);
    assertThat(manifest.size()).isEqualTo(images.app.size());
    assertThat(manifest.references())
        .containsExactly(images.appConfig.digest(), images.base.digest(), images.appLayer.digest());
    assertThat(app.missing()).isEmpty();
    assertThat(app.bytes()).isEqualTo(SampleImages.sum(images.app, images.appConfig, images.base, images.appLayer));
  }

  @Test
  void anIndexIsWalkedIntoItsChildManifestsAndTheirBlobs() throws Exception {
    RepositoryInventory cli = walker.walkRepository(SampleImages.CLI).await(10, TimeUnit.SECONDS);

    assertThat(cli.blobs()).isEqualTo(sizes(images.index, images.amd, images.amdConfig, images.amdLayer,
        images.arm, images.armConfig, images.armLayer));
    assertThat(cli.manifests()).containsOnlyKeys(images.index.digest(), images.amd.digest(), images.arm.digest());
    assertThat(cli.manifests().get(images.index.digest()).references())
        .containsExactly(images.amd.digest(), images.arm.digest());
    assertThat(cli.manifests().get(images.arm.digest()).references())
        .containsExactly(images.armConfig.digest(), images.armLayer.digest());
  }

  @Test
  void aRepositoryHoldingOnlyAnUploadHasNothingTheApiCanList() throws Exception {
    assertThat(walker.walkRepository(SampleImages.SCRATCH).await(10, TimeUnit.SECONDS))
        .isEqualTo(RepositoryInventory.empty(SampleImages.SCRATCH));
    assertThat(walker.blobExists(SampleImages.SCRATCH, images.orphan.digest()).await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(walker.blobExists(SampleImages.SCRATCH, images.base.digest()).await(10, TimeUnit.SECONDS)).isFalse();
  }

  @Test
  void anUntaggedManifestIsFoundByDigestAndAnAbsentOneIsMissing() throws Exception {
    String absent = "sha256:" + "0".repeat(64);

    RepositoryInventory found = walker.walkManifests(SampleImages.CLI, List.of(images.amd.digest(), absent))
        .await(10, TimeUnit.SECONDS);

    assertThat(found.manifests()).containsOnlyKeys(images.amd.digest());
    assertThat(found.blobs()).isEqualTo(sizes(images.amd, images.amdConfig, images.amdLayer));
    assertThat(found.missing()).containsExactly(absent);
  }

  @Test
  void aLayerDeletedStraightInTheRegistryIsMissingThoughItsManifestStillNamesIt() throws Exception {
    try (RealRegistry own = RealRegistry.start()) {
      RegistryPusher push = new RegistryPusher(own.url());
      Pushed config = push.blob("solo/app", 100, 1);
      Pushed layer = push.blob("solo/app", 1000, 2);
      Pushed manifest = push.image("solo/app", "1", config, layer);
      push.deleteBlob("solo/app", layer.digest());
      RegistryWalker ownWalker = new RegistryWalker(vertx, WalkerOptions.of(URI.create(own.url())));
      try {
        RepositoryInventory app = ownWalker.walkRepository("solo/app").await(10, TimeUnit.SECONDS);

        assertThat(app.blobs()).isEqualTo(sizes(manifest, config));
        assertThat(app.missing()).containsExactly(layer.digest());
        assertThat(app.manifests().get(manifest.digest()).references()).contains(layer.digest());
      } finally {
        ownWalker.close();
      }
    }
  }

  @Test
  void everyTagIsWalkedAcrossTagPages() throws Exception {
    try (RealRegistry own = RealRegistry.start()) {
      RegistryPusher push = new RegistryPusher(own.url());
      Pushed layer = push.blob("solo/app", 1000, 1);
      List<String> manifests = new ArrayList<>();
      for (int tag = 0; tag < 5; tag++) {
        manifests.add(push.image("solo/app", "v" + tag, push.blob("solo/app", 100, 10 + tag), layer).digest());
      }
      RegistryWalker ownWalker = new RegistryWalker(vertx, WalkerOptions.of(URI.create(own.url())).withPageSize(2));
      try {
        RepositoryInventory app = ownWalker.walkRepository("solo/app").await(10, TimeUnit.SECONDS);

        assertThat(app.manifests()).containsOnlyKeys(manifests);
        assertThat(app.blobs()).hasSize(5 + 5 + 1);
      } finally {
        ownWalker.close();
      }
    }
  }

  @Test
  void namesThatCannotBePutInARequestAreRefused() {
    assertThatThrownBy(() -> walker.walkRepository("../etc").await(5, TimeUnit.SECONDS))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> walker.blobExists("acme/app", "sha256:x?y").await(5, TimeUnit.SECONDS))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aRegistryThatCannotBeReachedFailsTheWalk() {
    RegistryWalker nowhere = new RegistryWalker(vertx, WalkerOptions.of(URI.create("http://127.0.0.1:1")));
    try {
      assertThatThrownBy(() -> nowhere.catalog().await(10, TimeUnit.SECONDS))
          .isInstanceOf(RegistryException.class).hasMessageContaining("GET /v2/_catalog");
    } finally {
      nowhere.close();
    }
  }

  private static Map<String, Long> sizes(Pushed... pushed) {
    Map<String, Long> sizes = new java.util.HashMap<>();
    for (Pushed blob : pushed) {
      sizes.put(blob.digest(), blob.size());
    }
    return sizes;
  }
}
