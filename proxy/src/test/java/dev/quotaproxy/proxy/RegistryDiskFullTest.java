package dev.quotaproxy.proxy;

import static dev.quotaproxy.proxy.support.OciTestClient.randomBytes;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.proxy.support.OciTestClient.Reply;
import dev.quotaproxy.proxy.support.QuotaHarness;
import dev.quotaproxy.proxy.support.QuotaHarness.Deployed;
import dev.quotaproxy.proxy.support.ScopeWatch;
import dev.quotaproxy.proxy.support.StorageInvariant;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The registry's disk fills up: its storage is a 3 MiB tmpfs. A push it fails with a 5xx is not charged,
 * and what it reserved is given back: the scope is not held full by bytes the registry never stored.
 * Needs to mount a tmpfs (root with CAP_SYS_ADMIN, as CI runs); skipped where that is refused.
 */
class RegistryDiskFullTest {
  private static final int KiB = 1024;

  private QuotaHarness harness;
  private Deployed proxy;
  private Path mounted;

  @BeforeEach
  void start() throws Exception {
    harness = new QuotaHarness();
    mounted = harness.registry().storage();
    Files.createDirectories(mounted);
    Assumptions.assumeTrue(run("mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", mounted.toString()),
        "cannot mount a tmpfs here (not root, or no CAP_SYS_ADMIN): skipping");
    proxy = harness.startProxy("""
        quota:
          scopes:
            acme: {storage-hard: 100MiB}
        """);
  }

  @AfterEach
  void stop() throws Exception {
    try {
      harness.close();
    } finally {
      if (mounted != null) {
        run("umount", "-l", mounted.toString());
      }
    }
  }

  @Test
  void aPushTheRegistryFailsForWantOfDiskHoldsNothingAndIsNotCharged() throws Exception {
    assertThat(proxy.client().pushBlob("acme/app", randomBytes(KiB)).status()).isEqualTo(201);
    try (ScopeWatch watch = ScopeWatch.start(harness.vertx(), harness.redis().url(), proxy.store(), "acme")) {
      Reply full = proxy.client().pushBlob("acme/app", randomBytes(4 * 1024 * KiB));
      assertThat(full.status()).as("the registry's answer for a full disk: %s", full.body()).isGreaterThanOrEqualTo(500);

      watch.awaitNothingReserved("acme", Duration.ofSeconds(10));
    }
    StorageInvariant.check(harness.registry().storage(), proxy.stores());
  }

  private static boolean run(String... command) throws IOException, InterruptedException {
    Process process = new ProcessBuilder(List.of(command)).redirectErrorStream(true).start();
    return process.waitFor(10, TimeUnit.SECONDS) && process.exitValue() == 0;
  }
}
