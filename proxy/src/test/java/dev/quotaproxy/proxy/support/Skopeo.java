package dev.quotaproxy.proxy.support;

import dev.quotaproxy.proxy.support.OciTestClient.Image;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * The real {@code skopeo} (Debian package skopeo), pushing OCI layouts written here to a registry over
 * plain HTTP. Skipped where it is not installed, unless {@code REQUIRE_TEST_TOOLS=1}.
 */
public final class Skopeo {
  private static final Path BINARY = Path.of("/usr/bin/skopeo");

  /** How a copy ended: the exit code and everything skopeo printed. */
  public record Result(int exitCode, String output) {
    public boolean succeeded() {
      return exitCode == 0;
    }
  }

  private Skopeo() {}

  public static void assumeInstalled() {
    boolean installed = Files.isExecutable(BINARY);
    if (!installed && "1".equals(System.getenv("REQUIRE_TEST_TOOLS"))) {
      throw new IllegalStateException(BINARY + " is required (REQUIRE_TEST_TOOLS=1) but not installed");
    }
    Assumptions.assumeTrue(installed, BINARY + " not installed (Debian package skopeo); skipping");
  }

  /** Writes the image as an OCI layout in {@code dir}, its manifest tagged {@code tag}. */
  public static Path layout(Path dir, String tag, Image image) throws IOException {
    Path blobs = Files.createDirectories(dir.resolve("blobs").resolve("sha256"));
    Files.writeString(dir.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
    blob(blobs, image.config());
    for (byte[] layer : image.layers()) {
      blob(blobs, layer);
    }
    blob(blobs, image.manifest().getBytes(StandardCharsets.UTF_8));
    Files.writeString(dir.resolve("index.json"), "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" + OciTestClient.OCI_MANIFEST
        + "\",\"digest\":\"" + image.manifestDigest() + "\",\"size\":" + image.manifestSize()
        + ",\"annotations\":{\"org.opencontainers.image.ref.name\":\"" + tag + "\"}}]}");
    return dir;
  }

  /** {@code skopeo copy oci:LAYOUT:TAG docker://HOST/REPOSITORY:TAG} over plain HTTP, no retries. */
  public static Result copy(Path layout, String tag, String registryHostPort, String repository) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of(BINARY.toString(), "--insecure-policy", "copy", "--dest-tls-verify=false",
        "--retry-times", "0", "oci:" + layout + ":" + tag, "docker://" + registryHostPort + "/" + repository + ":" + tag));
    Path output = Files.createTempFile("skopeo", ".log");
    try {
      Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(output.toFile()).start();
      if (!process.waitFor(120, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new IOException("skopeo did not finish within 120 s: " + Files.readString(output));
      }
      return new Result(process.exitValue(), Files.readString(output));
    } finally {
      Files.deleteIfExists(output);
    }
  }

  private static void blob(Path blobs, byte[] content) throws IOException {
    Files.write(blobs.resolve(OciTestClient.digest(content).substring("sha256:".length())), content);
  }
}
