package dev.quotaproxy.admin.reports;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/**
 * Debian tools some tests drive (chromium, pdftoppm): such a test is skipped where its tool is missing
 * (a machine with only a JDK and Maven), unless {@code REQUIRE_TEST_TOOLS=1} is set, as {@code .ci/run}
 * does: then a missing tool fails it, so CI can never pass by skipping.
 */
final class Tools {
  private Tools() {}

  static Path require(String binary, String debianPackage) {
    Path path = Path.of(binary);
    boolean installed = Files.isExecutable(path);
    if (!installed && "1".equals(System.getenv("REQUIRE_TEST_TOOLS"))) {
      throw new IllegalStateException(
          binary + " is required (REQUIRE_TEST_TOOLS=1) but not installed (Debian package " + debianPackage + ")");
    }
    Assumptions.assumeTrue(installed, binary + " not installed (Debian package " + debianPackage + "); skipping");
    return path;
  }
}
