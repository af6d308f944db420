package dev.quotaproxy.ledger.registry;

import dev.quotaproxy.oci.GoJson;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Just enough of a stored manifest to know what it references: the config, layers and {@code blobs} of
 * an image manifest, the child manifests of an index. Scoped to reading what a registry already holds,
 * so it is lenient where the proxy's {@code ManifestParser} (which judges pushes) is strict: the registry
 * accepted this manifest, and a walk that stopped at one odd descriptor would undercount a whole
 * repository. What cannot be read is skipped and logged; a type whose layout is not known references
 * nothing and counts its own bytes only, as the proxy counts it.
 */
final class ManifestReader {
  static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
  static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
  static final String OCI_ARTIFACT = "application/vnd.oci.artifact.manifest.v1+json";
  static final String DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
  static final String DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";

  /** The Accept header of every manifest GET: without it distribution answers 404 for OCI types. */
  static final String ACCEPT = String.join(", ", OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST);

  private static final Set<String> IMAGE_TYPES = Set.of(OCI_MANIFEST, DOCKER_MANIFEST, OCI_ARTIFACT);
  private static final Set<String> INDEX_TYPES = Set.of(OCI_INDEX, DOCKER_LIST);
  private static final Set<String> GENERIC_TYPES = Set.of("application/json", "application/octet-stream");
  private static final Logger LOG = LoggerFactory.getLogger(ManifestReader.class);

  private ManifestReader() {}

  record Descriptor(String digest, long size) {}

  /**
   * @param blobs     config, layers and artifact blobs (image manifests)
   * @param manifests child manifests (indexes)
   */
  record Contents(String mediaType, List<Descriptor> blobs, List<Descriptor> manifests) {}

  /**
   * @param contentType the response's Content-Type, or null
   * @param where       names the manifest in log lines
   */
  static Contents read(String contentType, Buffer body, String where) {
    JsonObject manifest = object(body);
    String bodyType = manifest == null ? null : manifest.getValue("mediaType") instanceof String s ? s : null;
    String type = bodyType != null ? bodyType : mediaType(contentType);
    if (manifest == null) {
      return new Contents(type, List.of(), List.of());
    }
    // A manifest stored without a useful type shows its layout by its fields, as the proxy's parser reads it.
    boolean untyped = type.isEmpty() || GENERIC_TYPES.contains(type);
    boolean index = INDEX_TYPES.contains(type) || untyped && manifest.getValue("manifests") instanceof JsonArray;
    boolean image = IMAGE_TYPES.contains(type) || untyped && !index && manifest.getValue("layers") instanceof JsonArray;
    if (index) {
      return new Contents(type, List.of(), descriptors(manifest, "manifests", where));
    }
    if (image) {
      Map<String, Descriptor> blobs = new LinkedHashMap<>();
      Object config = manifest.getValue("config");
      if (config != null) {
        add(blobs, descriptor(config, "config", where));
      }
      descriptors(manifest, "layers", where).forEach(blob -> add(blobs, blob));
      descriptors(manifest, "blobs", where).forEach(blob -> add(blobs, blob));
      return new Contents(type, new ArrayList<>(blobs.values()), List.of());
    }
    return new Contents(type, List.of(), List.of());
  }

  /** The body as the registry read it when it took the manifest (see {@link GoJson}), or null when it is no object. */
  private static JsonObject object(Buffer body) {
    try {
      return GoJson.decode(body.getBytes(), GoJson.Mode.AS_GO_DOES) instanceof Map<?, ?> object ? new JsonObject(fields(object)) : null;
    } catch (GoJson.InvalidJsonException notJson) {
      return null;
    }
  }

  private static String mediaType(String contentType) {
    if (contentType == null) {
      return "";
    }
    int semicolon = contentType.indexOf(';');
    return (semicolon < 0 ? contentType : contentType.substring(0, semicolon)).trim().toLowerCase(Locale.ROOT);
  }

  private static List<Descriptor> descriptors(JsonObject manifest, String field, String where) {
    if (!(manifest.getValue(field) instanceof JsonArray array)) {
      return List.of();
    }
    Map<String, Descriptor> found = new LinkedHashMap<>();
    for (int i = 0; i < array.size(); i++) {
      add(found, descriptor(array.getValue(i), field + "[" + i + "]", where));
    }
    return new ArrayList<>(found.values());
  }

  /** A blob listed twice is stored once. */
  private static void add(Map<String, Descriptor> found, Descriptor descriptor) {
    if (descriptor != null) {
      found.putIfAbsent(descriptor.digest(), descriptor);
    }
  }

  private static Descriptor descriptor(Object value, String field, String where) {
    if (value instanceof JsonObject descriptor
        && descriptor.getValue("digest") instanceof String digest && RegistryPaths.isSafeDigest(digest)
        && descriptor.getValue("size") instanceof Long size && size >= 0) {
      return new Descriptor(digest, size.longValue());
    }
    LOG.warn("{}: {} is not a descriptor with a digest and a size; not counted", where, field);
    return null;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> fields(Map<?, ?> object) {
    // GoJson's objects are keyed by field name, always strings.
    return (Map<String, Object>) object;
  }
}
