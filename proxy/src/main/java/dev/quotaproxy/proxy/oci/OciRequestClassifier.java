package dev.quotaproxy.proxy.oci;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns method, path and query into an {@link OciRequest}. Pure: no I/O, no state.
 *
 * <p>Routes are matched from the right, because a repository name has any number of components
 * and a component may itself be called {@code blobs} or {@code manifests}: in
 * {@code /v2/a/blobs/blobs/sha256:...} the name is {@code a/blobs}. Anything that does not fit the
 * grammar is {@link OciOperation#OTHER} and left for the registry to answer.
 */
public final class OciRequestClassifier {
  private OciRequestClassifier() {}

  /**
   * @param method upper-case HTTP method
   * @param path   raw (still percent-encoded) request path
   * @param query  raw query string without '?', or null
   */
  public static OciRequest classify(String method, String path, String query) {
    if (path.equals("/v2") || path.equals("/v2/")) {
      return isRead(method) ? OciRequest.of(OciOperation.API_VERSION_CHECK, null) : OciRequest.OTHER;
    }
    if (!path.startsWith("/v2/")) {
      return OciRequest.OTHER;
    }
    if (path.equals("/v2/_catalog")) {
      return isRead(method) ? OciRequest.of(OciOperation.CATALOG, null) : OciRequest.OTHER;
    }
    List<String> segments = decodeSegments(path.substring("/v2/".length()));
    if (segments == null) {
      return OciRequest.OTHER;
    }
    int n = segments.size();
    String last = segments.get(n - 1);

    if (n >= 4 && segments.get(n - 3).equals("blobs") && segments.get(n - 2).equals("uploads") && !last.isEmpty()) {
      OciRequest session = uploadSession(method, name(segments, n - 3), last, query);
      if (session != OciRequest.OTHER) {
        return session;
      }
    }
    if (method.equals("POST")) {
      // Upload start: ".../blobs/uploads/", and without the trailing slash as distribution also accepts.
      if (n >= 4 && last.isEmpty() && segments.get(n - 3).equals("blobs") && segments.get(n - 2).equals("uploads")) {
        return uploadStart(name(segments, n - 3), query);
      }
      if (n >= 3 && last.equals("uploads") && segments.get(n - 2).equals("blobs")) {
        return uploadStart(name(segments, n - 2), query);
      }
    }
    if (n >= 3) {
      String marker = segments.get(n - 2);
      String name = name(segments, n - 2);
      if (name == null) {
        return OciRequest.OTHER;
      }
      switch (marker) {
        case "manifests":
          return manifest(method, name, last);
        case "blobs":
          return blob(method, name, last);
        case "tags":
          return last.equals("list") && isRead(method) ? OciRequest.of(OciOperation.TAGS_LIST, name) : OciRequest.OTHER;
        case "referrers":
          return isRead(method) && OciNames.isDigest(last)
              ? new OciRequest(OciOperation.REFERRERS, name, null, last, null, null)
              : OciRequest.OTHER;
        default:
          return OciRequest.OTHER;
      }
    }
    return OciRequest.OTHER;
  }

  private static OciRequest manifest(String method, String name, String reference) {
    if (!OciNames.isReference(reference)) {
      return OciRequest.OTHER;
    }
    OciOperation op = switch (method) {
      case "GET" -> OciOperation.MANIFEST_GET;
      case "HEAD" -> OciOperation.MANIFEST_HEAD;
      case "PUT" -> OciOperation.MANIFEST_PUT;
      case "DELETE" -> OciOperation.MANIFEST_DELETE;
      default -> OciOperation.OTHER;
    };
    return op == OciOperation.OTHER ? OciRequest.OTHER : new OciRequest(op, name, reference, null, null, null);
  }

  private static OciRequest blob(String method, String name, String digest) {
    if (!OciNames.isDigest(digest)) {
      return OciRequest.OTHER;
    }
    OciOperation op = switch (method) {
      case "GET" -> OciOperation.BLOB_GET;
      case "HEAD" -> OciOperation.BLOB_HEAD;
      case "DELETE" -> OciOperation.BLOB_DELETE;
      default -> OciOperation.OTHER;
    };
    return op == OciOperation.OTHER ? OciRequest.OTHER : new OciRequest(op, name, null, digest, null, null);
  }

  private static OciRequest uploadStart(String name, String query) {
    if (name == null) {
      return OciRequest.OTHER;
    }
    Map<String, String> params = parseQuery(query);
    String mount = params.get("mount");
    if (mount != null) {
      return new OciRequest(OciOperation.BLOB_MOUNT, name, null, mount, null, params.get("from"));
    }
    String digest = params.get("digest");
    if (digest != null) {
      return new OciRequest(OciOperation.UPLOAD_MONOLITHIC, name, null, digest, null, null);
    }
    return OciRequest.of(OciOperation.UPLOAD_START, name);
  }

  private static OciRequest uploadSession(String method, String name, String uploadId, String query) {
    if (name == null) {
      return OciRequest.OTHER;
    }
    OciOperation op = switch (method) {
      case "PATCH" -> OciOperation.UPLOAD_CHUNK;
      case "PUT" -> OciOperation.UPLOAD_COMPLETE;
      case "GET" -> OciOperation.UPLOAD_STATUS;
      case "DELETE" -> OciOperation.UPLOAD_CANCEL;
      default -> OciOperation.OTHER;
    };
    if (op == OciOperation.OTHER) {
      return OciRequest.OTHER;
    }
    String digest = op == OciOperation.UPLOAD_COMPLETE ? parseQuery(query).get("digest") : null;
    return new OciRequest(op, name, null, digest, uploadId, null);
  }

  /** The repository name made of segments [0, end), or null when it breaks the name grammar. */
  private static String name(List<String> segments, int end) {
    if (end <= 0) {
      return null;
    }
    String name = String.join("/", segments.subList(0, end));
    return OciNames.isRepositoryName(name) ? name : null;
  }

  private static boolean isRead(String method) {
    return method.equals("GET") || method.equals("HEAD");
  }

  /** Splits on '/' and percent-decodes each segment; null when an escape is malformed. */
  private static List<String> decodeSegments(String rawPath) {
    try {
      return Arrays.stream(rawPath.split("/", -1)).map(OciRequestClassifier::decode).toList();
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  /** Query parameters, first value wins. '+' stays '+': digests such as {@code sha256+b64u:...} carry it. */
  static Map<String, String> parseQuery(String query) {
    Map<String, String> params = new HashMap<>();
    if (query == null || query.isEmpty()) {
      return params;
    }
    for (String pair : query.split("&")) {
      int eq = pair.indexOf('=');
      String key = eq < 0 ? pair : pair.substring(0, eq);
      String value = eq < 0 ? "" : pair.substring(eq + 1);
      try {
        params.putIfAbsent(decode(key), decode(value));
      } catch (IllegalArgumentException e) {
        // A malformed escape in one parameter does not hide the others.
      }
    }
    return params;
  }

  private static String decode(String text) {
    return text.indexOf('%') < 0 ? text : URLDecoder.decode(text.replace("+", "%2B"), StandardCharsets.UTF_8);
  }
}
