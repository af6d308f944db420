package dev.quotaproxy.proxy.route;

import dev.quotaproxy.oci.OciNames;
import java.util.List;

/**
 * Turns method and request target into an {@link OciRequest}. Pure: no I/O, no state.
 *
 * <p>It mirrors CNCF distribution 2.8's router ({@code registry/api/v2/routes.go} and
 * {@code descriptors.go}: gorilla/mux routes, tried in this order, on the decoded path):
 * <pre>
 *   base        /v2/                                                 any method, answers {}
 *   tags        /v2/{name}/tags/list                                 GET
 *   manifest    /v2/{name}/manifests/{reference: tag | digest}       GET HEAD PUT DELETE
 *   blob        /v2/{name}/blobs/{digest}                            GET HEAD DELETE
 *   upload      /v2/{name}/blobs/uploads/                            POST (start or mount)
 *   session     /v2/{name}/blobs/uploads/{uuid: [a-zA-Z0-9-_.=]+}    GET HEAD PATCH PUT DELETE, and POST
 *   catalog     /v2/_catalog                                         GET
 * </pre>
 * {name} is {@link OciNames#isRepositoryName}; any other method is a 405. A trailing slash other than
 * the template's is a 301, and so is a path {@code path.Clean} would change. Names are greedy, so
 * routes are matched here from the right: a component may itself be called {@code blobs} or
 * {@code manifests}, and in {@code /v2/a/blobs/blobs/sha256:...} the name is {@code a/blobs}.
 *
 * <p>A POST on a session URL is a write distribution executes (it ignores the id and starts a new
 * upload, or mounts); no client sends one, so it is {@link OciOperation#OTHER} here and
 * {@link RequestScreen} refuses it with every other unrecognised request that could write. A POST to
 * {@code .../blobs/uploads} without the slash is an upload start here although distribution answers
 * 301: other registries take it, and judging a non-write as a write costs nothing. Upload ids are
 * not held to distribution's grammar for the same reason.
 */
public final class OciRequestClassifier {
  private OciRequestClassifier() {}

  /**
   * @param method the HTTP method as received; methods are case-sensitive, as in Go
   * @param target the request target as the registry reads it
   */
  public static OciRequest classify(String method, RequestTarget target) {
    String path = target.path();
    if (path == null) {
      return OciRequest.OTHER;
    }
    if (path.equals("/v2") || path.equals("/v2/")) {
      return isRead(method) ? OciRequest.of(OciOperation.API_VERSION_CHECK, null) : OciRequest.OTHER;
    }
    if (!path.startsWith("/v2/")) {
      return OciRequest.OTHER;
    }
    if (path.equals("/v2/_catalog")) {
      return isRead(method) ? OciRequest.of(OciOperation.CATALOG, null) : OciRequest.OTHER;
    }
    List<String> segments = List.of(path.substring("/v2/".length()).split("/", -1));
    int n = segments.size();
    String last = segments.get(n - 1);

    if (n >= 4 && segments.get(n - 3).equals("blobs") && segments.get(n - 2).equals("uploads") && !last.isEmpty()) {
      OciRequest session = uploadSession(method, name(segments, n - 3), last, target);
      if (session != OciRequest.OTHER) {
        return session;
      }
    }
    if (method.equals("POST")) {
      if (n >= 4 && last.isEmpty() && segments.get(n - 3).equals("blobs") && segments.get(n - 2).equals("uploads")) {
        return uploadStart(name(segments, n - 3), target);
      }
      if (n >= 3 && last.equals("uploads") && segments.get(n - 2).equals("blobs")) {
        return uploadStart(name(segments, n - 2), target);
      }
    }
    if (n >= 3) {
      String marker = segments.get(n - 2);
      String name = name(segments, n - 2);
      if (name == null) {
        return OciRequest.OTHER;
      }
      switch (marker) {
        case "manifests" :
          return manifest(method, name, last);
        case "blobs" :
          return blob(method, name, last);
        case "tags" :
          return last.equals("list") && isRead(method) ? OciRequest.of(OciOperation.TAGS_LIST, name) : OciRequest.OTHER;
        case "referrers" :
          return isRead(method) && OciNames.isDigest(last)
              ? new OciRequest(OciOperation.REFERRERS, name, null, last, null, null)
              : OciRequest.OTHER;
        default :
          return OciRequest.OTHER;
      }
    }
    return OciRequest.OTHER;
  }

  /**
   * The same for a raw (still percent-encoded) path and query; a target that is not canonical
   * classifies as {@link OciOperation#OTHER}.
   */
  public static OciRequest classify(String method, String rawPath, String rawQuery) {
    return classify(method, RequestTarget.parse(rawPath, rawQuery));
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

  private static OciRequest uploadStart(String name, RequestTarget target) {
    if (name == null) {
      return OciRequest.OTHER;
    }
    String mount = target.parameter("mount");
    if (mount != null) {
      return new OciRequest(OciOperation.BLOB_MOUNT, name, null, mount, null, target.parameter("from"));
    }
    String digest = target.parameter("digest");
    if (digest != null) {
      return new OciRequest(OciOperation.UPLOAD_MONOLITHIC, name, null, digest, null, null);
    }
    return OciRequest.of(OciOperation.UPLOAD_START, name);
  }

  private static OciRequest uploadSession(String method, String name, String uploadId, RequestTarget target) {
    // Any id: distribution's are [a-zA-Z0-9-_.=]+, other registries' may not be, and they are metered alike.
    if (name == null) {
      return OciRequest.OTHER;
    }
    OciOperation op = switch (method) {
      case "PATCH" -> OciOperation.UPLOAD_CHUNK;
      case "PUT" -> OciOperation.UPLOAD_COMPLETE;
      case "GET", "HEAD" -> OciOperation.UPLOAD_STATUS;
      case "DELETE" -> OciOperation.UPLOAD_CANCEL;
      default -> OciOperation.OTHER;
    };
    if (op == OciOperation.OTHER) {
      return OciRequest.OTHER;
    }
    String digest = op == OciOperation.UPLOAD_COMPLETE ? target.parameter("digest") : null;
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
}
