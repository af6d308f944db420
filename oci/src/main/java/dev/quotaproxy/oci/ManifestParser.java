package dev.quotaproxy.oci;

import dev.quotaproxy.config.ByteSize;
import java.math.BigInteger;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Reads a pushed manifest for what it adds to a repository: its own digest and size, and the blobs
 * (or, for an index, the manifests) it references. Pure: no I/O.
 *
 * <p>Only the fields that matter for accounting are checked; everything else is the registry's to
 * validate. A type whose layout is not understood (an artifact type, Docker schema 1) is still
 * accepted and counts as its own bytes only: refusing it here would break pushes the registry allows.
 */
public final class ManifestParser {
  /** The distribution limit on a manifest body; larger ones are refused before being buffered further. */
  public static final int MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

  /** Where a manifest keeps its references. */
  private enum Layout {
    /** {@code config}, {@code layers} and the artifact manifest's {@code blobs}. */
    IMAGE,
    /** {@code manifests}. */
    INDEX
  }

  private static final Map<String, Layout> KNOWN_TYPES = Map.of(
      MediaTypes.OCI_IMAGE_MANIFEST, Layout.IMAGE,
      MediaTypes.DOCKER_MANIFEST, Layout.IMAGE,
      MediaTypes.OCI_ARTIFACT_MANIFEST, Layout.IMAGE,
      MediaTypes.OCI_IMAGE_INDEX, Layout.INDEX,
      MediaTypes.DOCKER_MANIFEST_LIST, Layout.INDEX);

  /** Content types that say nothing about the manifest, so the body has to. */
  private static final Set<String> GENERIC_TYPES = Set.of("application/json", "application/octet-stream");

  private ManifestParser() {}

  /** The manifest's body is malformed for its type; callers answer 400 {@code MANIFEST_INVALID} with the message. */
  public static final class ManifestInvalidException extends RuntimeException {
    ManifestInvalidException(String message) {
      // A refusal for the client, not a fault of ours: no stack trace to capture.
      super(message, null, false, false);
    }
  }

  public static ParsedManifest parse(String contentType, byte[] body) {
    return parse(contentType, body, Integer.MAX_VALUE);
  }

  /**
   * Refuses a manifest with more than {@code maxReferences} descriptors (counted as listed, a digest
   * listed twice counting twice): each costs the proxy a lookup and the store an argument, so their
   * number is capped like the body's size.
   *
   * @param contentType the request's Content-Type header, or null when absent
   * @param body        the manifest exactly as sent (its digest is taken over these bytes)
   * @throws ManifestInvalidException when the body is too large, or malformed for a type it is read as
   */
  public static ParsedManifest parse(String contentType, byte[] body, int maxReferences) {
    requireWithinLimit(body.length);
    References cap = new References(maxReferences);
    String digest = sha256(body);
    String headerType = mediaTypeOf(contentType);

    Layout headerLayout = KNOWN_TYPES.get(headerType);
    if (headerLayout != null) {
      Map<?, ?> manifest = decodeObject(body);
      String bodyType = mediaTypeField(manifest);
      if (bodyType != null && !bodyType.equals(headerType)) {
        // The registry refuses the mismatch too; reading either layout here could miscount.
        throw new ManifestInvalidException(
            "mediaType " + bodyType + " in the manifest does not match the Content-Type " + headerType);
      }
      return new ParsedManifest(headerType, digest, body.length, references(headerLayout, manifest, cap));
    }
    if (!headerType.isEmpty() && !GENERIC_TYPES.contains(headerType)) {
      return new ParsedManifest(headerType, digest, body.length, List.of());
    }

    // No useful header: the body names its type, or, from clients that omit mediaType, shows it by its fields.
    Map<?, ?> manifest;
    try {
      manifest = decodeObject(body);
    } catch (ManifestInvalidException notAnObject) {
      return new ParsedManifest(headerType, digest, body.length, List.of());
    }
    String bodyType = mediaTypeField(manifest);
    if (bodyType != null) {
      Layout layout = KNOWN_TYPES.get(bodyType);
      List<Blob> references = layout == null ? List.of() : references(layout, manifest, cap);
      return new ParsedManifest(bodyType, digest, body.length, references);
    }
    if (manifest.containsKey("manifests")) {
      return new ParsedManifest(MediaTypes.OCI_IMAGE_INDEX, digest, body.length, references(Layout.INDEX, manifest, cap));
    }
    if (manifest.containsKey("layers")) {
      return new ParsedManifest(MediaTypes.OCI_IMAGE_MANIFEST, digest, body.length, references(Layout.IMAGE, manifest, cap));
    }
    return new ParsedManifest(headerType, digest, body.length, List.of());
  }

  /** Refuses a body over {@link #MAX_MANIFEST_BYTES}: callers holding a body in another form check before copying it. */
  public static void requireWithinLimit(long length) {
    if (length > MAX_MANIFEST_BYTES) {
      // In bytes: just over the limit would read "4.0 MiB, over the 4.0 MiB limit" in binary units.
      throw new ManifestInvalidException("manifest is " + length + " bytes, over the limit of "
          + MAX_MANIFEST_BYTES + " bytes (" + ByteSize.format(MAX_MANIFEST_BYTES) + ")");
    }
  }

  /** {@code application/vnd.oci.image.manifest.v1+json; charset=utf-8} gives the part before the parameters, lower case. */
  private static String mediaTypeOf(String contentType) {
    if (contentType == null) {
      return "";
    }
    int semicolon = contentType.indexOf(';');
    String type = semicolon < 0 ? contentType : contentType.substring(0, semicolon);
    return type.trim().toLowerCase(Locale.ROOT);
  }

  /** The body as the registry reads it (see {@link GoJson}): keys folded to its fields, two keys for one field refused. */
  private static Map<?, ?> decodeObject(byte[] body) {
    Object value;
    try {
      value = GoJson.decode(body, GoJson.Mode.STRICT);
    } catch (GoJson.InvalidJsonException e) {
      throw new ManifestInvalidException(e.getMessage());
    }
    if (!(value instanceof Map<?, ?> manifest)) {
      throw new ManifestInvalidException("manifest is not a JSON object");
    }
    return manifest;
  }

  /** The body's {@code mediaType}, or null when it has none. */
  private static String mediaTypeField(Map<?, ?> manifest) {
    Object value = manifest.get("mediaType");
    if (value == null || value instanceof String) {
      return (String) value;
    }
    throw new ManifestInvalidException("mediaType must be a string");
  }

  /** Descriptors counted against the cap as they are read. */
  private static final class References {
    private final int max;
    private int listed;

    References(int max) {
      this.max = max;
    }

    void count() {
      if (++listed > max) {
        throw new ManifestInvalidException("manifest lists more than " + max
            + " references, the most this proxy accepts in one manifest (quota.max-manifest-references)");
      }
    }
  }

  private static List<Blob> references(Layout layout, Map<?, ?> manifest, References cap) {
    // Keyed by digest: a blob listed twice is stored, and counted, once.
    Map<String, Blob> references = new LinkedHashMap<>();
    if (layout == Layout.IMAGE) {
      Object config = manifest.get("config");
      if (config != null) {
        cap.count();
        add(references, descriptor(config, "config"));
      }
      addAll(references, manifest, "layers", cap);
      addAll(references, manifest, "blobs", cap);
    } else {
      addAll(references, manifest, "manifests", cap);
    }
    return new ArrayList<>(references.values());
  }

  private static void addAll(Map<String, Blob> references, Map<?, ?> manifest, String field, References cap) {
    Object value = manifest.get(field);
    if (value == null) {
      return;
    }
    if (!(value instanceof List<?> array)) {
      throw new ManifestInvalidException(field + " must be an array");
    }
    for (int i = 0; i < array.size(); i++) {
      cap.count();
      add(references, descriptor(array.get(i), field + "[" + i + "]"));
    }
  }

  private static void add(Map<String, Blob> references, Blob blob) {
    Blob earlier = references.putIfAbsent(blob.digest(), blob);
    if (earlier != null && earlier.size() != blob.size()) {
      // One digest is one content: two sizes mean one of them lies, and the smaller would undercount.
      throw new ManifestInvalidException(
          blob.digest() + " is listed with two sizes, " + earlier.size() + " and " + blob.size());
    }
  }

  private static Blob descriptor(Object value, String where) {
    if (!(value instanceof Map<?, ?> descriptor)) {
      throw new ManifestInvalidException(where + " must be an object with a digest and a size");
    }
    Object digest = descriptor.get("digest");
    if (!(digest instanceof String text) || !OciNames.isDigest(text)) {
      throw new ManifestInvalidException(where + " has no valid digest");
    }
    long size = nonNegativeInteger(descriptor.get("size"));
    if (size < 0) {
      throw new ManifestInvalidException(where + " has no valid size: it must be a whole number of bytes, 0 or more");
    }
    return new Blob(text, size);
  }

  /** The value as a long if it is a JSON integer from 0 to Long.MAX_VALUE, else -1. */
  private static long nonNegativeInteger(Object value) {
    if (value instanceof Integer || value instanceof Long || value instanceof Short || value instanceof Byte) {
      long number = ((Number) value).longValue();
      return number >= 0 ? number : -1;
    }
    if (value instanceof BigInteger big && big.signum() >= 0 && big.bitLength() < Long.SIZE) {
      return big.longValue();
    }
    // Absent, a string, or a fraction or exponent form (12.0, 1e3) that the registry's int64 refuses.
    return -1;
  }

  private static String sha256(byte[] body) {
    try {
      return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
  }
}
