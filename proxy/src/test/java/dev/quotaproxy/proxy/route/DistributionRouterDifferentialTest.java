package dev.quotaproxy.proxy.route;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The classifier against a model of CNCF distribution 2.8's router, over thousands of generated
 * paths and every method: whatever distribution would hand to a handler that writes, the proxy must
 * classify as that write, with the same repository, reference, digest and upload id, or refuse; and
 * what distribution hands to a reader must be classified as that read (egress is metered on it).
 *
 * <p>The model is distribution's own route table ({@code registry/api/v2/descriptors.go}), its name
 * grammar ({@code reference/regexp.go}) and go-digest's {@code DigestRegexp}, assembled the way
 * gorilla/mux compiles a template with {@code StrictSlash(true)}: {@code ^} + template with each
 * {@code {var:re}} as a group + {@code [/]?$}, routes tried in registration order, after mux's
 * {@code path.Clean} redirect. RE2 and java.util.regex pick the same submatches (leftmost-first),
 * so the groups are the variables mux would extract. The methods each route's handler takes come
 * from distribution's dispatchers ({@code handlers/*.go}).
 */
class DistributionRouterDifferentialTest {
  private static final long SEED = 20_240_609L;
  private static final String HEX = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

  // reference/regexp.go (distribution 2.8), built with the same helpers it uses.
  private static final String ALPHA_NUMERIC = "[a-z0-9]+";
  /** Verbatim: {@code (?:[._]|__|[-]*)}. Its empty alternative makes Java backtrack exponentially on a mismatch. */
  private static final String SEPARATOR_GO = "(?:[._]|__|[-]*)";
  /**
   * The same language for java.util.regex: an empty separator only joins two alphanumeric runs, which
   * {@code [a-z0-9]+} already matches, so {@code [-]*} may as well be {@code -+}.
   * {@link #theSeparatorRewriteKeepsTheLanguage} checks it.
   */
  private static final String SEPARATOR = "(?:[._]|__|-+)";
  private static final String NAME_COMPONENT_GO = expression(ALPHA_NUMERIC, optional(repeated(SEPARATOR_GO, ALPHA_NUMERIC)));
  private static final String NAME_COMPONENT = expression(ALPHA_NUMERIC, optional(repeated(SEPARATOR, ALPHA_NUMERIC)));
  private static final String DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
  private static final String DOMAIN = expression(DOMAIN_COMPONENT, optional(repeated("\\.", DOMAIN_COMPONENT)),
      optional(":", "[0-9]+"));
  private static final String TAG = "[\\w][\\w.-]{0,127}";
  private static final String NAME = expression(optional(DOMAIN, "/"), NAME_COMPONENT, optional(repeated("/", NAME_COMPONENT)));
  // github.com/opencontainers/go-digest: DigestRegexp.
  private static final String DIGEST = "[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+";
  private static final String UUID = "[a-zA-Z0-9-_.=]+";
  /** reference.NameTotalLengthMax: longer names get NAME_INVALID from the dispatcher, before any handler. */
  private static final int NAME_TOTAL_LENGTH_MAX = 255;

  /** distribution's routes, in registration order, as mux compiles them. */
  enum Route {
    BASE("/v2/", "^/v2[/]?$"),
    TAGS("/v2/{name}/tags/list", "^/v2/(?<name>" + NAME + ")/tags/list[/]?$"),
    MANIFEST(
        "/v2/{name}/manifests/{reference}",
        "^/v2/(?<name>" + NAME + ")/manifests/(?<reference>" + TAG + "|" + DIGEST + ")[/]?$"),
    BLOB("/v2/{name}/blobs/{digest}",
        "^/v2/(?<name>" + NAME + ")/blobs/(?<digest>" + DIGEST + ")[/]?$"),
    BLOB_UPLOAD("/v2/{name}/blobs/uploads/",
        "^/v2/(?<name>" + NAME + ")/blobs/uploads[/]?$"),
    BLOB_UPLOAD_CHUNK("/v2/{name}/blobs/uploads/{uuid}",
        "^/v2/(?<name>" + NAME + ")/blobs/uploads/(?<uuid>" + UUID + ")[/]?$"),
    CATALOG("/v2/_catalog", "^/v2/_catalog[/]?$");

    final String template;
    final Pattern pattern;

    Route(String template, String regex) {
      this.template = template;
      this.pattern = Pattern.compile(regex);
    }
  }

  /** What distribution does with a request: nothing (a redirect, 404, 405, an error before the handler), or an operation. */
  record Outcome(String kind, OciRequest operation) {
    static final Outcome REDIRECT = new Outcome("301", null);
    static final Outcome NOT_FOUND = new Outcome("404", null);
    static final Outcome NO_HANDLER = new Outcome("no handler", null);
    /** A POST on a session URL: distribution starts a new upload or mounts, ignoring the id. */
    static final Outcome STARTS_OVER = new Outcome("start over", null);

    static Outcome of(OciRequest operation) {
      return new Outcome("handler", operation);
    }
  }

  /** A query as sent, and the parameters Go's url.ParseQuery reads from it (first value wins). */
  record Query(String raw, String digest, String mount, String from) {}

  private static final List<Query> QUERIES = List.of(
      new Query(null, null, null, null),
      new Query("digest=sha256%3A" + HEX, "sha256:" + HEX, null, null),
      new Query("_state=abc%3D%3D&digest=sha256:" + HEX, "sha256:" + HEX, null, null),
      new Query("mount=sha256%3A" + HEX + "&from=acme%2Fbase", null, "sha256:" + HEX, "acme/base"),
      new Query("from=x&mount=m&digest=d", "d", "m", "x"),
      new Query("digest=sha256+b64u:abc", "sha256 b64u:abc", null, null),
      new Query("n=10&last=a", null, null, null));

  private static final Set<OciOperation> WRITES = EnumSet.of(OciOperation.MANIFEST_PUT, OciOperation.MANIFEST_DELETE,
      OciOperation.BLOB_DELETE, OciOperation.UPLOAD_START, OciOperation.UPLOAD_MONOLITHIC, OciOperation.BLOB_MOUNT,
      OciOperation.UPLOAD_CHUNK, OciOperation.UPLOAD_COMPLETE, OciOperation.UPLOAD_CANCEL);
  private static final List<String> METHODS = List.of("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "patch");

  @Test
  void everyWriteDistributionRoutesIsClassifiedAsThatWriteOrRefused() {
    Random random = new Random(SEED);
    List<String> paths = new ArrayList<>(List.of("/", "/v2", "/v2/", "/v2/_catalog", "/v2/_catalog/", "/v1/_ping",
        "/v2//a/blobs/uploads/", "/v2/a/./blobs/uploads/", "/v2/a/b/../blobs/uploads/", "/v2/a/blobs/uploads/u/"));
    while (paths.size() < 6_000) {
      paths.add(randomPath(random));
    }
    int writes = 0;
    int reads = 0;
    List<String> disagreements = new ArrayList<>();
    for (String path : paths) {
      Query query = QUERIES.get(random.nextInt(QUERIES.size()));
      String raw = goEscape(path);
      RequestTarget target = RequestTarget.parse(raw, query.raw());
      checkDecoding(path, raw, target, disagreements);
      for (String method : METHODS) {
        Outcome expected = distribution(method, path, query);
        OciRequest ours = OciRequestClassifier.classify(method, target);
        Optional<OciError> refusal = RequestScreen.refusal(method, target, ours, List.of(), false);
        String request = method + " " + raw + (query.raw() == null ? "" : "?" + query.raw());
        if (expected == Outcome.STARTS_OVER) {
          writes++;
          if (refusal.isEmpty()) {
            disagreements.add(request + ": distribution starts an upload or mounts; passed on as " + ours);
          }
        } else if (expected.operation() != null) {
          boolean write = WRITES.contains(expected.operation().operation());
          if (write) {
            writes++;
          } else {
            reads++;
          }
          if (!ours.equals(expected.operation())) {
            disagreements.add(request + ": distribution " + expected.operation() + ", proxy " + ours);
          } else if (refusal.isPresent()) {
            disagreements.add(request + ": a real " + ours.operation() + " refused: " + refusal.get().message());
          }
        } else if (WRITES.contains(ours.operation()) && !knownOverreach(ours, expected, path)) {
          disagreements.add(request + ": proxy " + ours + ", distribution " + expected.kind());
        }
      }
    }

    assertThat(disagreements).isEmpty();
    assertThat(writes).as("writes distribution routed").isGreaterThan(1_500);
    assertThat(reads).as("reads distribution routed").isGreaterThan(1_000);
  }

  @Test
  void theSeparatorRewriteKeepsTheLanguage() {
    Pattern go = Pattern.compile(NAME_COMPONENT_GO);
    Pattern java = Pattern.compile(NAME_COMPONENT);
    Random random = new Random(SEED);
    for (int i = 0; i < 20_000; i++) {
      // Short enough for the verbatim pattern's backtracking.
      String component = randomString(random, "ab09._-_-", 1 + random.nextInt(10));
      assertThat(java.matcher(component).matches()).as(component).isEqualTo(go.matcher(component).matches());
    }
  }

  /** Classifying a non-write as a write costs nothing; these two do it on purpose (see the classifier). */
  private static boolean knownOverreach(OciRequest ours, Outcome distribution, String path) {
    boolean startWithoutSlash = distribution == Outcome.REDIRECT && path.endsWith("/blobs/uploads")
        && EnumSet.of(OciOperation.UPLOAD_START, OciOperation.UPLOAD_MONOLITHIC, OciOperation.BLOB_MOUNT).contains(ours.operation());
    boolean otherRegistriesUploadId = distribution == Outcome.NOT_FOUND && ours.uploadId() != null && !ours.uploadId().matches(UUID);
    return startWithoutSlash || otherRegistriesUploadId;
  }

  /** The raw path decodes to the generated one, or is refused where the registry would not route it as it is. */
  private static void checkDecoding(String path, String raw, RequestTarget target, List<String> disagreements) {
    boolean unclean = !cleanPath(path).equals(path);
    boolean needsPercent = path.indexOf('%') >= 0;
    if (unclean || needsPercent) {
      if (target.path() != null) {
        disagreements.add(raw + ": accepted, but distribution redirects or it needs an encoded '%'");
      }
    } else if (!path.equals(target.path())) {
      disagreements.add(raw + ": decoded to " + target.path() + " (" + target.problem() + "), distribution routes " + path);
    }
  }

  /** distribution 2.8: mux's clean-path redirect, its routes in order, StrictSlash, the dispatcher, the handler's methods. */
  static Outcome distribution(String method, String path, Query query) {
    if (!cleanPath(path).equals(path)) {
      return Outcome.REDIRECT;
    }
    for (Route route : Route.values()) {
      Matcher match = route.pattern.matcher(path);
      if (!match.matches()) {
        continue;
      }
      if (path.endsWith("/") != route.template.endsWith("/")) {
        return Outcome.REDIRECT;
      }
      String name = route.pattern.pattern().contains("(?<name>") ? match.group("name") : null;
      if (name != null && name.length() > NAME_TOTAL_LENGTH_MAX) {
        return Outcome.NO_HANDLER;
      }
      return switch (route) {
        case BASE -> method.equals("GET") || method.equals("HEAD")
            ? Outcome.of(new OciRequest(OciOperation.API_VERSION_CHECK, null, null, null, null, null))
            : Outcome.NO_HANDLER; // apiBase answers every method with {}; nothing is written
        case TAGS ->
          method.equals("GET") ? Outcome.of(new OciRequest(OciOperation.TAGS_LIST, name, null, null, null, null)) : Outcome.NO_HANDLER;
        case CATALOG ->
          method.equals("GET") ? Outcome.of(new OciRequest(OciOperation.CATALOG, null, null, null, null, null)) : Outcome.NO_HANDLER;
        case MANIFEST -> {
          OciOperation operation = switch (method) {
            case "GET" -> OciOperation.MANIFEST_GET;
            case "HEAD" -> OciOperation.MANIFEST_HEAD;
            case "PUT" -> OciOperation.MANIFEST_PUT;
            case "DELETE" -> OciOperation.MANIFEST_DELETE;
            default -> null;
          };
          yield operation == null
              ? Outcome.NO_HANDLER
              : Outcome.of(new OciRequest(operation, name, match.group("reference"), null, null, null));
        }
        case BLOB -> {
          OciOperation operation = switch (method) {
            case "GET" -> OciOperation.BLOB_GET;
            case "HEAD" -> OciOperation.BLOB_HEAD;
            case "DELETE" -> OciOperation.BLOB_DELETE;
            default -> null;
          };
          yield operation == null
              ? Outcome.NO_HANDLER
              : Outcome.of(new OciRequest(operation, name, null, match.group("digest"), null, null));
        }
        // Without an id, only POST does anything: PATCH, PUT and DELETE find no upload (BLOB_UPLOAD_UNKNOWN).
        case BLOB_UPLOAD -> method.equals("POST") ? Outcome.of(uploadStart(name, query)) : Outcome.NO_HANDLER;
        case BLOB_UPLOAD_CHUNK -> {
          String uuid = match.group("uuid");
          yield switch (method) {
            case "GET", "HEAD" -> Outcome.of(new OciRequest(OciOperation.UPLOAD_STATUS, name, null, null, uuid, null));
            case "PATCH" -> Outcome.of(new OciRequest(OciOperation.UPLOAD_CHUNK, name, null, null, uuid, null));
            case "PUT" -> Outcome.of(new OciRequest(OciOperation.UPLOAD_COMPLETE, name, null, query.digest(), uuid, null));
            case "DELETE" -> Outcome.of(new OciRequest(OciOperation.UPLOAD_CANCEL, name, null, null, uuid, null));
            case "POST" -> Outcome.STARTS_OVER;
            default -> Outcome.NO_HANDLER;
          };
        }
      };
    }
    return Outcome.NOT_FOUND;
  }

  /** StartBlobUpload reads mount and from (2.8 takes no blob in a POST); the proxy names the start by its parameters. */
  private static OciRequest uploadStart(String name, Query query) {
    if (query.mount() != null) {
      return new OciRequest(OciOperation.BLOB_MOUNT, name, null, query.mount(), null, query.from());
    }
    if (query.digest() != null) {
      return new OciRequest(OciOperation.UPLOAD_MONOLITHIC, name, null, query.digest(), null, null);
    }
    return new OciRequest(OciOperation.UPLOAD_START, name, null, null, null, null);
  }

  /** gorilla/mux's cleanPath: Go's path.Clean, with a trailing slash put back. */
  static String cleanPath(String path) {
    Deque<String> kept = new ArrayDeque<>();
    for (String segment : path.split("/")) {
      if (segment.isEmpty() || segment.equals(".")) {
        continue;
      }
      if (segment.equals("..")) {
        kept.pollLast();
      } else {
        kept.addLast(segment);
      }
    }
    String clean = "/" + String.join("/", kept);
    return path.endsWith("/") && !clean.equals("/") ? clean + "/" : clean;
  }

  /** The path as a Go client writes it: {@code url.URL.EscapedPath} of the decoded path. */
  static String goEscape(String path) {
    StringBuilder raw = new StringBuilder();
    for (char c : path.toCharArray()) {
      boolean plain = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || "-_.~$&+,/:;=@".indexOf(c) >= 0;
      raw.append(plain ? String.valueOf(c) : String.format("%%%02X", (int) c));
    }
    return raw.toString();
  }

  // Generators: names with components named like route keywords, hosts, bad separators; every route's tail.

  private static final List<String> COMPONENTS = List.of("a", "acme", "app", "team", "blobs", "manifests", "uploads", "tags",
      "list", "v2", "referrers", "localhost", "reg-1.example.com", "my-org", "my__app", "a.b", "a_b", "a__b", "a--b", "9");
  private static final List<String> ODD_COMPONENTS = List.of("_catalog", "Acme", "ACME", "localhost:5000",
      "registry.example.com:443", "a___b", "-a", "a-", "a_", "_a", ".a", "A", "a:b", "a+b", "sha256:" + HEX, "b".repeat(250));
  private static final List<String> REFERENCES = List.of("latest", "v1.0", "1", "V1", "_x", "-x", ".x", "x".repeat(128),
      "x".repeat(129), "sha256:" + HEX, "sha256:abc", "SHA256:abc", "sha256+b64u:abc=", "sha256:", "a.b:c", "tags", "list",
      "uploads", "blobs", "manifests");
  private static final List<String> UPLOAD_IDS = List.of("5b0d4f8a-1c2e-4f3a-8d41-cf1c93ef8286", "RDk1MzA2RkEt_-==", "a.b_c-d",
      "uploads", "blobs", "a+b", "a:b", "sha256:abc", "x");
  private static final String ODD = "abcAB09._-:+=~%# \u00e9?";

  private static String randomPath(Random random) {
    StringBuilder path = new StringBuilder("/v2");
    int components = 1 + random.nextInt(4);
    for (int i = 0; i < components; i++) {
      path.append('/').append(randomComponent(random));
    }
    path.append(switch (random.nextInt(10)) {
      case 0 -> "/manifests/" + randomOf(random, REFERENCES);
      case 1 -> "/blobs/" + randomOf(random, REFERENCES);
      case 2 -> "/blobs/uploads/";
      case 3 -> "/blobs/uploads";
      case 4, 5 -> "/blobs/uploads/" + randomOf(random, UPLOAD_IDS);
      case 6 -> "/tags/list";
      case 7 -> "/referrers/sha256:" + HEX;
      case 8 -> "/" + randomComponent(random);
      default -> "";
    });
    if (random.nextInt(7) == 0) {
      path.append('/');
    }
    return path.toString();
  }

  private static String randomComponent(Random random) {
    int pick = random.nextInt(20);
    if (pick == 0) {
      return randomString(random, ODD, 1 + random.nextInt(6));
    }
    if (pick == 1) {
      return randomOf(random, List.of("", ".", ".."));
    }
    if (pick == 2) {
      return randomOf(random, REFERENCES);
    }
    if (pick < 7) {
      return randomOf(random, ODD_COMPONENTS);
    }
    return randomOf(random, COMPONENTS);
  }

  private static String randomOf(Random random, List<String> choices) {
    return choices.get(random.nextInt(choices.size()));
  }

  private static String randomString(Random random, String alphabet, int length) {
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < length; i++) {
      text.append(alphabet.charAt(random.nextInt(alphabet.length())));
    }
    return text.toString();
  }

  // The helpers reference/regexp.go composes its grammar with.

  private static String expression(String... parts) {
    return String.join("", parts);
  }

  private static String optional(String... parts) {
    return "(?:" + expression(parts) + ")?";
  }

  private static String repeated(String... parts) {
    return "(?:" + expression(parts) + ")+";
  }
}
