package dev.quotaproxy.proxy.support;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.quotaproxy.config.ByteSize;
import dev.quotaproxy.oci.Scopes;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * What a CNCF distribution 2.8 registry holds, read from its filesystem storage
 * ({@code RealRegistry.storage()}) rather than asked through its API: the truth the proxy's charge is
 * compared with ({@link StorageInvariant}). A snapshot, taken when {@link #read} is called.
 *
 * <p>The layout, as a real push leaves it under {@code docker/registry/v2/}:
 * <pre>
 * blobs/sha256/&lt;2 hex&gt;/&lt;hex&gt;/data                              the content of every blob and manifest
 * repositories/&lt;R&gt;/_layers/sha256/&lt;hex&gt;/link                  a blob linked into R (upload, mount)
 * repositories/&lt;R&gt;/_manifests/revisions/sha256/&lt;hex&gt;/link      a manifest of R
 * repositories/&lt;R&gt;/_manifests/tags/&lt;tag&gt;/current/link          a tag (removed whole with its manifest)
 * repositories/&lt;R&gt;/_uploads/&lt;id&gt;/data                          the bytes of an open upload session
 * </pre>
 * A delete removes only {@code link} files: a deleted manifest leaves its revision directory without
 * {@code link}, a deleted layer its {@code _layers} directory without {@code link}, and the blob data
 * stays until garbage collection.
 *
 * <p>What a repository R <em>holds</em> (the product's accounting rules, as reconciliation counts them):
 * <ul>
 *   <li><b>live manifests</b>: revisions with a {@code link}; <b>deleted manifests</b>: revision
 *       directories without one;
 *   <li><b>references</b> of a manifest: read from its blob data, the digests in {@code config.digest},
 *       {@code layers[].digest}, {@code blobs[].digest} and {@code manifests[].digest}. Keys are matched
 *       as the registry's decoder (Go's {@code encoding/json}) matches them: exactly or ignoring case,
 *       the last matching key winning; data that is not a JSON object references nothing;
 *   <li><b>held(R)</b> = live manifests, plus the references of live manifests (a layer whose
 *       {@code _layers} link was deleted while a live manifest still references it stays held: GC keeps
 *       it), plus the linked layers that no deleted manifest of R referenced (deleting a manifest frees
 *       the layers no remaining manifest references, as the product counts it);
 *   <li>only digests whose blob data file exists count, and a digest's size is its data file's size.
 * </ul>
 * A scope ({@code acme}, {@code acme/team}, {@code acme/team/app}, see {@link Scopes}) holds the
 * <em>distinct</em> digests held by the repositories at or under it; the {@link #SYSTEM} scope holds
 * those of every repository. Open uploads ({@code _uploads/<id>/data}) are not held: they are reported
 * apart, in bytes per repository ({@link #openUploads()}).
 */
public final class RegistryStorage {
  /** The system scope: every repository of the registry. */
  public static final String SYSTEM = "";

  private static final Pattern HEX = Pattern.compile("[0-9a-f]{32,}");
  private static final Pattern DIGEST = Pattern.compile("[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+");
  private static final List<String> IMAGE_REFERENCES = List.of("layers", "blobs", "manifests");
  private static final JsonFactory JSON = new JsonFactory();

  /**
   * One repository as its files show it.
   *
   * @param liveManifests    revisions with a {@code link}
   * @param deletedManifests revision directories without one
   * @param linkedLayers     {@code _layers} entries with a {@code link}
   * @param held             digests R holds by the rules above (data present)
   * @param openUploadBytes  bytes of the data files of R's open upload sessions
   * @param freedByDeletes   the references of R's deleted manifests: a linked layer among them is not held
   *                         (unless a live manifest references it), even if it was uploaded again after the
   *                         delete, which the files cannot tell apart
   */
  public record Repository(String name, Set<String> liveManifests, Set<String> deletedManifests, Set<String> linkedLayers,
      Set<String> held, long openUploadBytes, Set<String> freedByDeletes) {}

  private final Path root;
  private final SortedMap<String, Repository> repositories;
  /** Size of each blob whose data exists, by digest. */
  private final Map<String, Long> sizes;

  private RegistryStorage(Path root, SortedMap<String, Repository> repositories, Map<String, Long> sizes) {
    this.root = root;
    this.repositories = repositories;
    this.sizes = sizes;
  }

  /** Reads the storage under {@code storageRoot} (the registry's {@code rootdirectory}) as it is now. */
  public static RegistryStorage read(Path storageRoot) {
    try {
      Path v2 = storageRoot.resolve("docker/registry/v2");
      Map<String, Long> sizes = blobSizes(v2.resolve("blobs"));
      SortedMap<String, Repository> repositories = new TreeMap<>();
      Path repositoriesDir = v2.resolve("repositories");
      for (Path directory : repositoryDirectories(repositoriesDir)) {
        String name = repositoriesDir.relativize(directory).toString().replace('\\', '/');
        repositories.put(name, repository(name, directory, v2.resolve("blobs"), sizes));
      }
      return new RegistryStorage(storageRoot, repositories, sizes);
    } catch (IOException e) {
      throw new UncheckedIOException("could not read the registry's storage at " + storageRoot, e);
    }
  }

  public Path root() {
    return root;
  }

  public Collection<Repository> repositories() {
    return repositories.values();
  }

  /** The repository, or null when the storage has no directory for it. */
  public Repository repository(String name) {
    return repositories.get(name);
  }

  /** The digests the repository holds; empty when it has no files. */
  public Set<String> heldBy(String repository) {
    Repository r = repositories.get(repository);
    return r == null ? Set.of() : r.held();
  }

  /** The distinct digests held by the repositories at or under the scope ({@link #SYSTEM}: all), sorted. */
  public Set<String> held(String scope) {
    Set<String> held = new TreeSet<>();
    repositoriesUnder(scope).forEach(r -> held.addAll(r.held()));
    return held;
  }

  /** Bytes of {@link #held}. */
  public long heldBytes(String scope) {
    return held(scope).stream().mapToLong(this::size).sum();
  }

  /** The size of a blob's data, or -1 when the registry has no data for it. */
  public long size(String digest) {
    return sizes.getOrDefault(digest, -1L);
  }

  /** Whether the registry has the blob's data (linked anywhere or not). */
  public boolean hasData(String digest) {
    return sizes.containsKey(digest);
  }

  /** Every scope some repository belongs to (the system scope excluded), outermost first. */
  public Set<String> scopes() {
    Set<String> scopes = new TreeSet<>();
    repositories.keySet().forEach(name -> scopes.addAll(Scopes.of(name)));
    return scopes;
  }

  /** Bytes in open upload sessions, by repository (repositories with none left out). */
  public Map<String, Long> openUploads() {
    Map<String, Long> open = new TreeMap<>();
    repositories.values().stream().filter(r -> r.openUploadBytes() > 0).forEach(r -> open.put(r.name(), r.openUploadBytes()));
    return open;
  }

  /** Bytes in open upload sessions of the repositories at or under the scope. */
  public long openUploadBytes(String scope) {
    return repositoriesUnder(scope).mapToLong(Repository::openUploadBytes).sum();
  }

  /** The repositories under the scope holding the digest, for messages. */
  public List<String> holders(String scope, String digest) {
    return repositoriesUnder(scope).filter(r -> r.held().contains(digest)).map(Repository::name).toList();
  }

  /**
   * The held digests of a scope, one a line: {@code sha256:ab12... 1048576 (1.0 MiB) in acme/app, acme/web}.
   */
  public String describe(String scope) {
    Set<String> held = held(scope);
    if (held.isEmpty()) {
      return "      (nothing)";
    }
    return held.stream()
        .map(d -> "      " + d + " " + size(d) + " (" + ByteSize.format(size(d)) + ") in " + String.join(", ", holders(scope, d)))
        .collect(Collectors.joining("\n"));
  }

  /**
   * Every file under the storage root with its size, by path relative to it: compare two of these to
   * show that a request left the registry's storage exactly as it was.
   */
  public static SortedMap<String, Long> files(Path storageRoot) {
    SortedMap<String, Long> files = new TreeMap<>();
    if (!Files.exists(storageRoot)) {
      return files;
    }
    try (Stream<Path> walk = Files.walk(storageRoot)) {
      for (Path path : walk.toList()) {
        String relative = storageRoot.relativize(path).toString();
        files.put(Files.isDirectory(path) ? relative + "/" : relative, Files.isDirectory(path) ? 0 : Files.size(path));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return files;
  }

  /**
   * Waits for the registry to have written at least {@code atLeast} bytes into an upload session's
   * data, woken by the filesystem's own change events (a {@link WatchService} on the session's
   * directory), for at most the timeout. Returns the size then, which may be short of {@code atLeast}
   * if the time ran out: the caller judges.
   */
  public static long awaitUploadData(Path storageRoot, String repository, String uploadId, long atLeast, Duration timeout)
      throws IOException, InterruptedException {
    Path session = storageRoot.resolve("docker/registry/v2/repositories").resolve(repository).resolve("_uploads").resolve(uploadId);
    Path data = session.resolve("data");
    long deadline = System.nanoTime() + timeout.toNanos();
    try (WatchService watch = session.getFileSystem().newWatchService()) {
      session.register(watch, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY);
      while (true) {
        long size = Files.exists(data) ? Files.size(data) : 0;
        long left = deadline - System.nanoTime();
        if (size >= atLeast || left <= 0) {
          return size;
        }
        WatchKey key = watch.poll(left, TimeUnit.NANOSECONDS);
        if (key != null) {
          key.pollEvents();
          key.reset();
        }
      }
    }
  }

  /** What changed between two {@link #files} listings: {@code + path (size)}, {@code - path}, {@code ~ path: a -> b bytes}. */
  public static List<String> changes(SortedMap<String, Long> before, SortedMap<String, Long> after) {
    List<String> changes = new ArrayList<>();
    Set<String> paths = new TreeSet<>(before.keySet());
    paths.addAll(after.keySet());
    for (String path : paths) {
      Long was = before.get(path);
      Long is = after.get(path);
      if (was == null) {
        changes.add("+ " + path + (path.endsWith("/") ? "" : " (" + is + " bytes)"));
      } else if (is == null) {
        changes.add("- " + path);
      } else if (!was.equals(is)) {
        changes.add("~ " + path + ": " + was + " -> " + is + " bytes");
      }
    }
    return changes;
  }

  private Stream<Repository> repositoriesUnder(String scope) {
    return repositories.values().stream()
        .filter(r -> scope.equals(SYSTEM) || r.name().equals(scope) || r.name().startsWith(scope + "/"));
  }

  /** Directories of {@code repositories/} that hold one of distribution's {@code _layers}, {@code _manifests}, {@code _uploads}. */
  private static List<Path> repositoryDirectories(Path repositoriesDir) throws IOException {
    if (!Files.isDirectory(repositoriesDir)) {
      return List.of();
    }
    List<Path> found = new ArrayList<>();
    Files.walkFileTree(repositoriesDir, new java.nio.file.SimpleFileVisitor<>() {
      @Override
      public java.nio.file.FileVisitResult preVisitDirectory(Path dir, java.nio.file.attribute.BasicFileAttributes attributes) {
        // Repository names have no component starting with '_': those are distribution's own (a tag may be
        // called _layers), and what is under them (every upload's leftover hash states among it) is not walked.
        if (!dir.equals(repositoriesDir) && dir.getFileName().toString().startsWith("_")) {
          return java.nio.file.FileVisitResult.SKIP_SUBTREE;
        }
        if (Files.isDirectory(dir.resolve("_layers")) || Files.isDirectory(dir.resolve("_manifests"))
            || Files.isDirectory(dir.resolve("_uploads"))) {
          found.add(dir);
        }
        return java.nio.file.FileVisitResult.CONTINUE;
      }
    });
    found.sort(null);
    return found;
  }

  private static Map<String, Long> blobSizes(Path blobs) throws IOException {
    Map<String, Long> sizes = new LinkedHashMap<>();
    if (!Files.isDirectory(blobs)) {
      return sizes;
    }
    // blobs/<algorithm>/<2 hex>/<hex>/data
    try (Stream<Path> walk = Files.walk(blobs, 4)) {
      for (Path data : walk.filter(p -> p.getFileName().toString().equals("data") && Files.isRegularFile(p)).toList()) {
        Path hex = data.getParent();
        Path algorithm = hex.getParent().getParent();
        sizes.put(algorithm.getFileName() + ":" + hex.getFileName(), Files.size(data));
      }
    }
    return sizes;
  }

  private static Repository repository(String name, Path directory, Path blobs, Map<String, Long> sizes) throws IOException {
    Set<String> live = new TreeSet<>();
    Set<String> deleted = new TreeSet<>();
    Path revisions = directory.resolve("_manifests/revisions");
    for (Path revision : digestDirectories(revisions)) {
      (Files.exists(revision.resolve("link")) ? live : deleted).add(digestOf(revision));
    }
    Set<String> linked = new TreeSet<>();
    for (Path layer : digestDirectories(directory.resolve("_layers"))) {
      if (Files.exists(layer.resolve("link"))) {
        linked.add(digestOf(layer));
      }
    }

    Set<String> held = new TreeSet<>(live);
    for (String manifest : live) {
      held.addAll(references(blobs, manifest));
    }
    Set<String> freedByDeletes = new TreeSet<>();
    for (String manifest : deleted) {
      freedByDeletes.addAll(references(blobs, manifest));
    }
    for (String layer : linked) {
      if (!freedByDeletes.contains(layer)) {
        held.add(layer);
      }
    }
    held.removeIf(digest -> !sizes.containsKey(digest));
    return new Repository(name, live, deleted, linked, held, openUploadBytes(directory.resolve("_uploads")), freedByDeletes);
  }

  /** {@code <dir>/<algorithm>/<hex>} directories: the shape of both {@code _layers} and {@code _manifests/revisions}. */
  private static List<Path> digestDirectories(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    List<Path> found = new ArrayList<>();
    try (Stream<Path> algorithms = Files.list(dir)) {
      for (Path algorithm : algorithms.filter(Files::isDirectory).toList()) {
        try (Stream<Path> hexes = Files.list(algorithm)) {
          hexes.filter(Files::isDirectory).filter(p -> HEX.matcher(p.getFileName().toString()).matches()).forEach(found::add);
        }
      }
    }
    return found;
  }

  private static String digestOf(Path hexDirectory) {
    return hexDirectory.getParent().getFileName() + ":" + hexDirectory.getFileName();
  }

  private static long openUploadBytes(Path uploads) throws IOException {
    if (!Files.isDirectory(uploads)) {
      return 0;
    }
    long bytes = 0;
    try (Stream<Path> sessions = Files.list(uploads)) {
      for (Path session : sessions.filter(Files::isDirectory).toList()) {
        Path data = session.resolve("data");
        if (Files.isRegularFile(data)) {
          bytes += Files.size(data);
        }
      }
    }
    return bytes;
  }

  /** The digests a manifest references, read from its blob data; none when the data is missing or not a JSON object. */
  static Set<String> references(Path blobs, String manifest) throws IOException {
    int colon = manifest.indexOf(':');
    String hex = manifest.substring(colon + 1);
    Path data = blobs.resolve(manifest.substring(0, colon)).resolve(hex.substring(0, 2)).resolve(hex).resolve("data");
    if (!Files.isRegularFile(data)) {
      return Set.of();
    }
    return references(Files.readAllBytes(data));
  }

  /** The digests in {@code config.digest}, {@code layers[].digest}, {@code blobs[].digest}, {@code manifests[].digest}. */
  static Set<String> references(byte[] manifest) {
    Set<String> references = new TreeSet<>();
    Object root;
    try (JsonParser parser = JSON.createParser(manifest)) {
      root = value(parser, parser.nextToken());
    } catch (IOException | RuntimeException notJson) {
      return references;
    }
    if (!(root instanceof GoObject object)) {
      return references;
    }
    addDigest(references, object.field("config"));
    for (String field : IMAGE_REFERENCES) {
      if (object.field(field) instanceof List<?> descriptors) {
        descriptors.forEach(descriptor -> addDigest(references, descriptor));
      }
    }
    return references;
  }

  private static void addDigest(Set<String> references, Object descriptor) {
    if (descriptor instanceof GoObject object && object.field("digest") instanceof String digest && DIGEST.matcher(digest).matches()) {
      references.add(digest);
    }
  }

  /**
   * A JSON object as Go's {@code encoding/json} reads it into a struct: every key/value pair kept in
   * order, and a field found by the last key equal to its name ignoring case.
   */
  private record GoObject(List<Map.Entry<String, Object>> entries) {
    Object field(String name) {
      Object found = null;
      for (Map.Entry<String, Object> entry : entries) {
        if (entry.getKey().equalsIgnoreCase(name)) {
          found = entry.getValue();
        }
      }
      return found;
    }
  }

  private static Object value(JsonParser parser, JsonToken token) throws IOException {
    if (token == null) {
      throw new IOException("empty");
    }
    switch (token) {
      case START_OBJECT -> {
        List<Map.Entry<String, Object>> entries = new ArrayList<>();
        for (JsonToken next = parser.nextToken(); next != JsonToken.END_OBJECT; next = parser.nextToken()) {
          String key = parser.currentName();
          entries.add(new java.util.AbstractMap.SimpleImmutableEntry<>(key, value(parser, parser.nextToken())));
        }
        return new GoObject(entries);
      }
      case START_ARRAY -> {
        List<Object> values = new ArrayList<>();
        for (JsonToken next = parser.nextToken(); next != JsonToken.END_ARRAY; next = parser.nextToken()) {
          values.add(value(parser, next));
        }
        return values;
      }
      case VALUE_STRING -> {
        return parser.getText();
      }
      default -> {
        // Numbers, booleans, null: none of them is a digest.
        return token;
      }
    }
  }
}
