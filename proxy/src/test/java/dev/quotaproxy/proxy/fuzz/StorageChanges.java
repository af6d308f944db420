package dev.quotaproxy.proxy.fuzz;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.FileVisitResult;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The writes a request made to a CNCF distribution 2.8 registry, read from its filesystem storage:
 * two snapshots of {@code docker/registry/v2/} and the difference between them, sorted into the kinds
 * of change that only a write can make (see {@link Kind}). A snapshot keeps, per file, what a write
 * changes: the size of {@code data} files (blobs, upload sessions), the content of {@code link} files
 * (a tag moved to another manifest changes its link's content, not its size), the presence of an
 * upload's {@code startedat}. Everything else (hash states, empty directories a delete leaves) is not
 * a write of its own.
 */
public final class StorageChanges {
  private StorageChanges() {}

  /** What a change is; each names the operations that may make it. */
  public enum Kind {
    /** {@code _uploads/<id>/startedat} appeared: an upload session was opened. */
    UPLOAD_OPENED,
    /** {@code _uploads/<id>/data} grew, shrank or appeared with bytes: bytes went into an open upload. */
    UPLOAD_DATA,
    /** {@code _uploads/<id>/startedat} went away: the session was committed or cancelled. */
    UPLOAD_REMOVED,
    /** {@code blobs/.../data} appeared: the registry stores new content. */
    BLOB_ADDED,
    /** {@code blobs/.../data} went away (only garbage collection does that; none runs here). */
    BLOB_REMOVED,
    /** A {@code link} under a repository appeared: a blob, manifest or tag linked. */
    LINK_ADDED,
    /** A {@code link} under a repository changed its content: a tag moved. */
    LINK_CHANGED,
    /** A {@code link} under a repository went away: a blob, manifest or tag deleted. */
    LINK_REMOVED
  }

  /**
   * One change.
   *
   * @param repository the repository it is under, null for {@code blobs/}
   * @param uploadId   the upload session it is in, null outside {@code _uploads}
   */
  public record Change(Kind kind, String path, String repository, String uploadId, String detail) {
    @Override
    public String toString() {
      return kind + " " + path + (detail.isEmpty() ? "" : " (" + detail + ")");
    }
  }

  /**
   * The files of the registry's storage that writes change, by path relative to {@code docker/registry/v2}.
   * The {@code hashstates} an upload leaves behind, even once committed or cancelled, are not walked, nor
   * the directories of the uploads in {@code ended} (ids are never reused).
   */
  public static SortedMap<String, String> snapshot(Path storageRoot, Set<String> ended) {
    Path v2 = storageRoot.resolve("docker/registry/v2");
    SortedMap<String, String> files = new TreeMap<>();
    if (!Files.isDirectory(v2)) {
      return files;
    }
    try {
      Files.walkFileTree(v2, new SimpleFileVisitor<>() {
        @Override
        public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attributes) {
          String name = dir.getFileName().toString();
          boolean skip = name.equals("hashstates") || ended.contains(name) && dir.getParent().getFileName().toString().equals("_uploads");
          return skip ? FileVisitResult.SKIP_SUBTREE : FileVisitResult.CONTINUE;
        }

        @Override
        public FileVisitResult visitFile(Path path, BasicFileAttributes attributes) throws IOException {
          String name = path.getFileName().toString();
          if (!attributes.isRegularFile() || !name.equals("data") && !name.equals("link") && !name.equals("startedat")) {
            return FileVisitResult.CONTINUE;
          }
          String relative = v2.relativize(path).toString().replace('\\', '/');
          try {
            files.put(relative, switch (name) {
              case "data" -> Long.toString(attributes.size());
              case "link" -> Files.readString(path, StandardCharsets.ISO_8859_1);
              default -> "";
            });
          } catch (NoSuchFileException gone) {
            // Removed while walked (a session committed by a request still ending): the next snapshot sees it.
          }
          return FileVisitResult.CONTINUE;
        }

        @Override
        public FileVisitResult visitFileFailed(Path path, IOException e) throws IOException {
          if (e instanceof NoSuchFileException) {
            return FileVisitResult.CONTINUE;
          }
          throw e;
        }
      });
    } catch (IOException e) {
      throw new UncheckedIOException("could not read the registry's storage at " + v2, e);
    }
    return files;
  }

  /** The writes between two snapshots. */
  public static List<Change> diff(SortedMap<String, String> before, SortedMap<String, String> after) {
    Set<String> paths = new TreeSet<>(before.keySet());
    paths.addAll(after.keySet());
    List<Change> changes = new ArrayList<>();
    for (String path : paths) {
      String was = before.get(path);
      String is = after.get(path);
      if (was != null && was.equals(is)) {
        continue;
      }
      Change change = classify(path, was, is);
      if (change != null) {
        changes.add(change);
      }
    }
    return changes;
  }

  private static Change classify(String path, String was, String is) {
    String name = path.substring(path.lastIndexOf('/') + 1);
    if (path.startsWith("blobs/")) {
      if (!name.equals("data")) {
        return null;
      }
      String digest = blobDigest(path);
      if (was == null) {
        return new Change(Kind.BLOB_ADDED, path, null, null, digest + ", " + is + " bytes");
      }
      if (is == null) {
        return new Change(Kind.BLOB_REMOVED, path, null, null, digest);
      }
      // The same content under the same digest cannot change size: report it as new content.
      return new Change(Kind.BLOB_ADDED, path, null, null, digest + ", " + was + " -> " + is + " bytes");
    }
    if (!path.startsWith("repositories/")) {
      return null;
    }
    String repository = repository(path);
    int uploads = path.indexOf("/_uploads/");
    if (uploads >= 0) {
      String rest = path.substring(uploads + "/_uploads/".length());
      String uploadId = rest.substring(0, rest.indexOf('/'));
      if (name.equals("startedat") && rest.equals(uploadId + "/startedat")) {
        return was == null
            ? new Change(Kind.UPLOAD_OPENED, path, repository, uploadId, "")
            : is == null ? new Change(Kind.UPLOAD_REMOVED, path, repository, uploadId, "") : null;
      }
      if (name.equals("data") && rest.equals(uploadId + "/data")) {
        long from = was == null ? 0 : Long.parseLong(was);
        long to = is == null ? 0 : Long.parseLong(is);
        // A session's data going away with the session is its removal, reported by startedat.
        return is == null || from == to
            ? null
            : new Change(Kind.UPLOAD_DATA, path, repository, uploadId, from + " -> " + to + " bytes");
      }
      return null;
    }
    if (!name.equals("link")) {
      return null;
    }
    if (was == null) {
      return new Change(Kind.LINK_ADDED, path, repository, null, is.trim());
    }
    if (is == null) {
      return new Change(Kind.LINK_REMOVED, path, repository, null, was.trim());
    }
    return new Change(Kind.LINK_CHANGED, path, repository, null, was.trim() + " -> " + is.trim());
  }

  /** {@code repositories/<name>/_...}: the components up to the first that starts with '_'. */
  private static String repository(String path) {
    String[] parts = path.split("/");
    StringBuilder name = new StringBuilder();
    for (int i = 1; i < parts.length && !parts[i].startsWith("_"); i++) {
      name.append(name.length() == 0 ? "" : "/").append(parts[i]);
    }
    return name.toString();
  }

  /** {@code blobs/sha256/ab/abcd.../data}: {@code sha256:abcd...}. */
  private static String blobDigest(String path) {
    String[] parts = path.split("/");
    return parts.length >= 5 ? parts[1] + ":" + parts[3] : path;
  }
}
