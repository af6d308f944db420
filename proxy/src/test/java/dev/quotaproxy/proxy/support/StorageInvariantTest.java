package dev.quotaproxy.proxy.support;

import static dev.quotaproxy.proxy.support.OciTestClient.digest;
import static dev.quotaproxy.proxy.support.OciTestClient.image;
import static dev.quotaproxy.proxy.support.OciTestClient.randomBytes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.quotaproxy.proxy.support.OciTestClient.Image;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@link StorageInvariant} holding after honest pushes, and saying what leaked when bytes go around the proxy. */
class StorageInvariantTest {
  private static final int KiB = 1024;

  @RegisterExtension final ProxyFixture proxy = ProxyFixture.acme("1MiB");

  @Test
  void holdsAfterPushesAndDeletesThroughTheProxy() throws Exception {
    Image image = image(randomBytes(100 * KiB), randomBytes(50 * KiB));
    assertThat(proxy.client().pushImage("acme/app", "v1", image).status()).isEqualTo(201);
    assertThat(proxy.client().pushImage("acme/team/web", "v1", image).status()).isEqualTo(201);
    assertThat(proxy.client().delete("/v2/acme/team/web/manifests/" + image.manifestDigest()).status()).isEqualTo(202);

    var figures = proxy.invariant().check();

    assertThat(figures).filteredOn(f -> f.scope().equals("acme")).singleElement()
        .satisfies(f -> assertThat(f.held()).isEqualTo(image.totalSize()).isEqualTo(f.charged()));
    assertThat(figures).extracting(StorageInvariant.ScopeFigures::scope)
        .contains("acme", "acme/app", "acme/team", "acme/team/web", RegistryStorage.SYSTEM);
  }

  @Test
  void aBlobPushedAroundTheProxyIsNamedWithItsScopeAndSize() throws Exception {
    byte[] around = randomBytes(2000 * KiB);
    assertThat(proxy.harness().direct().pushBlob("acme/app", around).status()).isEqualTo(201);

    assertThatThrownBy(() -> proxy.invariant().check())
        .hasMessageContaining("scope acme: charged 0 (0 B), registry holds 2048000 (2.0 MiB), hard limit 1048576 (1.0 MiB)")
        .hasMessageContaining("charge is under the registry by 2048000")
        .hasMessageContaining("past the limit")
        .hasMessageContaining(digest(around) + " 2048000 (2.0 MiB) in acme/app")
        .hasMessageContaining("held, not charged: " + digest(around));

    var allowed = StorageInvariant.of(proxy.harness().registry().storage(), proxy.stores()).allowingPreExisting("acme", 2000 * KiB)
        .figures();
    assertThat(allowed).filteredOn(f -> f.scope().equals("acme")).singleElement()
        .satisfies(f -> assertThat(f.withinLimit()).as("there before the limit").isTrue())
        .satisfies(f -> assertThat(f.chargeMatches()).as("but still not charged").isFalse());
  }
}
