package dev.quotaproxy.loadtest;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Images generated for a virtual user, with their digests computed: a config blob, one layer of a
 * chosen size, and the OCI image manifest that lists them. Nothing is read from fixtures, so every
 * user pushes content the registry has not seen unless the workload shares it on purpose.
 */
final class OciImages {
  static final String MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json";
  private static final String CONFIG_TYPE = "application/vnd.oci.image.config.v1+json";
  private static final String LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar";

  private OciImages() {}

  /** One image: what a push sends, keyed as the simulations' session attributes. */
  static Map<String, Object> image(long seed, int layerBytes) {
    return image(seed, layerBytes, null);
  }

  /**
   * An image whose first layer is {@code base}, shared with the other images built on it (as images of one
   * tenant share a base image), and whose second is its own. With a null base it has its own layer only.
   */
  static Map<String, Object> image(long seed, int layerBytes, byte[] base) {
    byte[] layer = bytes(seed, layerBytes);
    String layerDigest = sha256(layer);
    String baseDigest = base == null ? null : sha256(base);
    byte[] config = ("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Labels\":{\"seed\":\"" + seed
        + "\"}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[" + (base == null ? "" : "\"" + baseDigest + "\",") + "\"" + layerDigest + "\"]}}").getBytes(StandardCharsets.UTF_8);
    String configDigest = sha256(config);
    byte[] manifest = ("{\"schemaVersion\":2,\"mediaType\":\"" + MANIFEST_TYPE + "\","
        + "\"config\":{\"mediaType\":\"" + CONFIG_TYPE + "\",\"digest\":\"" + configDigest + "\",\"size\":" + config.length + "},"
        + "\"layers\":[" + (base == null ? "" : descriptor(baseDigest, base.length) + ",") + descriptor(layerDigest, layer.length) + "]}")
        .getBytes(StandardCharsets.UTF_8);
    Map<String, Object> image = new HashMap<>(Map.of("config", config, "configDigest", configDigest, "layer", layer,
        "layerDigest", layerDigest, "layerSize", layer.length, "manifest", manifest, "manifestDigest", sha256(manifest)));
    if (base != null) {
      image.put("base", base);
      image.put("baseDigest", baseDigest);
    }
    return image;
  }

  /** {@code length} bytes that look random and are the same for the same seed. */
  static byte[] bytes(long seed, int length) {
    SplittableRandom random = new SplittableRandom(seed);
    byte[] bytes = new byte[length];
    for (int i = 0; i < bytes.length; i += 8) {
      long word = random.nextLong();
      for (int j = 0; j < 8 && i + j < bytes.length; j++) {
        bytes[i + j] = (byte) (word >>> (8 * j));
      }
    }
    return bytes;
  }

  private static String descriptor(String digest, int size) {
    return "{\"mediaType\":\"" + LAYER_TYPE + "\",\"digest\":\"" + digest + "\",\"size\":" + size + "}";
  }

  /** A layer size for user {@code n}, spread over {@code minKib} to {@code maxKib} KiB the same way on every run. */
  static int layerBytes(long n, int minKib, int maxKib) {
    return 1024 * (minKib + (int) Math.floorMod(n * 7919, (long) Math.max(1, maxKib - minKib + 1)));
  }

  /** The upload URL the registry gave, with the digest that closes it. */
  static String closing(String location, String digest) {
    return location + (location.contains("?") ? "&" : "?") + "digest=" + digest;
  }

  static String sha256(byte[] bytes) {
    try {
      return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
  }
}
