package dev.quotaproxy.proxy.fuzz;

import dev.quotaproxy.oci.Blob;
import dev.quotaproxy.proxy.fuzz.FuzzRequest.Framing;
import dev.quotaproxy.proxy.fuzz.FuzzRequest.Header;
import dev.quotaproxy.proxy.support.OciTestClient;
import dev.quotaproxy.proxy.support.RegistryStorage;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;

/**
 * Generates requests: a valid OCI operation first (what a registry client sends), then up to three
 * mutations of its method, path, query, headers, body or framing, each named in
 * {@link FuzzRequest#mutations()} so that the statistics can say which shapes were tried. Targets
 * come from what the registry holds now (blobs and manifests of the repositories, read from its
 * storage) and from a fixed pool of blobs and manifests, so that pushes repeat content and storage
 * stays bounded however long the run.
 *
 * <p>Deterministic: the same {@link Random} state, the same storage and the same session give the
 * same request.
 */
public final class RequestGenerator {
  /** The valid operation a request starts from. */
  public enum Op {
    UPLOAD_START,
    PATCH,
    PUT_CLOSE,
    PUT_WITH_BODY,
    MONOLITHIC,
    MOUNT,
    MANIFEST_PUT,
    BLOB_DELETE,
    MANIFEST_DELETE,
    BLOB_GET,
    BLOB_HEAD,
    MANIFEST_GET,
    MANIFEST_HEAD,
    TAGS_LIST,
    CATALOG,
    UPLOAD_STATUS,
    UPLOAD_CANCEL,
    BASE
  }

  /** What an operation needs opened before it: an upload session, empty, with a chunk, or with two. */
  public enum SessionNeed {
    NONE, EMPTY, WITH_DATA, TWO_CHUNKS
  }

  public record Blob(byte[] bytes, String digest) {}

  /** A manifest of the pool: its bytes, digest, media type and the pool blobs it references. */
  public record Manifest(byte[] bytes, String digest, String mediaType, List<Integer> references) {}

  /**
   * An open upload session: its id, the path and query of its latest Location, and, for a session
   * with two chunks, the query of the Location after the first (a stale {@code _state}).
   */
  public record Session(String uploadId, String path, String query, String staleQuery) {}

  /** The operation chosen, on which repository, with which pool blob and manifest, and what it needs opened first. */
  public record Plan(Op op, String repository, int blob, int manifest, SessionNeed session) {}

  static final String OCTETS = "application/octet-stream";
  static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
  static final String DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
  private static final String[] FORM_TYPES = {
      "application/x-www-form-urlencoded", "Application/X-WWW-Form-URLEncoded", "application/x-www-form-urlencoded; charset=utf-8",
      "application/x-www-form-urlencoded;", " application/x-www-form-urlencoded\t", "APPLICATION/X-WWW-FORM-URLENCODED ; q=1",
      "multipart/form-data; boundary=%s", "multipart/form-data;boundary=\"%s\"", "Multipart/Form-Data; boundary=%s; charset=x",
      "multipart/form-data ;boundary=%s"};
  private static final String[] UNKNOWN_METHODS = {"PROPFIND", "MKCOL", "FOO", "LOCK", "PURGE", "OPTIONS", "TRACE", "M-POST", "COPY",
      "MOVE"};
  private static final String[] STANDARD_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};
  private static final List<String> KEYWORDS = List.of("v2", "blobs", "uploads", "manifests", "tags", "list", "_catalog");
  private static final Set<String> DECIDING = Set.of("digest", "mount", "from");

  private final List<String> repositories;
  private final List<Blob> blobs;
  private final List<Manifest> manifests;
  private final String authority;
  /** {@link #unlinkable} for the request being built. */
  private Set<String> avoid = Set.of();

  public RequestGenerator(List<String> repositories, List<Blob> blobs, List<Manifest> manifests, String authority) {
    this.repositories = List.copyOf(repositories);
    this.blobs = List.copyOf(blobs);
    this.manifests = List.copyOf(manifests);
    this.authority = authority;
  }

  public Blob blob(int index) {
    return blobs.get(index);
  }

  public Manifest manifest(int index) {
    return manifests.get(index);
  }

  /**
   * The blobs that must not be linked into the repository again on their own (an upload or a mount):
   * those a deleted manifest of the repository referenced and that it does not hold now. The
   * registry's files cannot tell such a layer linked again from one left linked by the delete, so
   * {@link RegistryStorage} counts neither, while the proxy rightly charges the new upload: the
   * oracle, not the proxy, would be wrong. Linked again under a manifest they are fine.
   */
  public static Set<String> unlinkable(RegistryStorage storage, String repository) {
    RegistryStorage.Repository held = storage.repository(repository);
    if (held == null) {
      return Set.of();
    }
    Set<String> avoid = new java.util.TreeSet<>(held.freedByDeletes());
    avoid.removeAll(held.held());
    return avoid;
  }

  /** Chooses the operation, its repository and pool content, and what must be opened for it. */
  public Plan plan(Random r, RegistryStorage storage) {
    Op op = weighted(r);
    String repository = pick(r, repositories);
    int blob = pickBlob(r, unlinkable(storage, repository));
    int manifest = r.nextInt(manifests.size());
    SessionNeed need = switch (op) {
      case PATCH -> r.nextInt(5) == 0 ? SessionNeed.WITH_DATA : SessionNeed.EMPTY;
      case PUT_CLOSE -> r.nextInt(4) == 0 ? SessionNeed.TWO_CHUNKS : SessionNeed.WITH_DATA;
      case PUT_WITH_BODY -> r.nextInt(6) == 0 ? SessionNeed.WITH_DATA : SessionNeed.EMPTY;
      case UPLOAD_STATUS, UPLOAD_CANCEL -> switch (r.nextInt(3)) {
        case 0 -> SessionNeed.EMPTY;
        case 1 -> SessionNeed.WITH_DATA;
        default -> SessionNeed.TWO_CHUNKS;
      };
      default -> SessionNeed.NONE;
    };
    return new Plan(op, repository, blob, manifest, need);
  }

  /** A pool blob whose digest is not among {@code avoid}. */
  private int pickBlob(Random r, Set<String> avoid) {
    for (int attempt = 0; attempt < 100; attempt++) {
      int index = r.nextInt(blobs.size());
      if (!avoid.contains(blobs.get(index).digest())) {
        return index;
      }
    }
    throw new IllegalStateException("every pool blob is to be avoided: " + avoid.size());
  }

  private static Op weighted(Random r) {
    int[] weights = {6, 13, 12, 10, 5, 8, 10, 5, 5, 3, 3, 3, 2, 2, 1, 4, 3, 1};
    int total = 0;
    for (int w : weights) {
      total += w;
    }
    int roll = r.nextInt(total);
    for (int i = 0; i < weights.length; i++) {
      roll -= weights[i];
      if (roll < 0) {
        return Op.values()[i];
      }
    }
    throw new IllegalStateException();
  }

  /** The valid request of the plan, then its mutations. */
  public FuzzRequest build(Random r, Plan plan, Session session, RegistryStorage storage) {
    avoid = unlinkable(storage, plan.repository());
    FuzzRequest request = base(r, plan, session, storage);
    int count = switch (r.nextInt(20)) {
      case 0, 1, 2, 3, 4 -> 0;
      case 5, 6, 7, 8, 9, 10 -> 1;
      case 11, 12, 13, 14, 15, 16 -> 2;
      default -> 3;
    };
    for (int i = 0; i < count; i++) {
      mutate(r, request, plan, session, storage);
    }
    return request;
  }

  // ---------------------------------------------------------------------------------------------
  // The valid operations

  private FuzzRequest base(Random r, Plan plan, Session session, RegistryStorage storage) {
    String repository = plan.repository();
    Blob blob = blobs.get(plan.blob());
    String v2 = "/v2/" + repository;
    FuzzRequest request;
    switch (plan.op()) {
      case UPLOAD_START -> request = new FuzzRequest(plan.op(), "POST", v2 + "/blobs/uploads/");
      case PATCH -> {
        request = onSession(plan.op(), "PATCH", session, false);
        withBody(request, blob.bytes(), r.nextBoolean() ? Framing.LENGTH : Framing.CHUNKED, r);
        request.headers.add(Header.of("Content-Type", OCTETS));
      }
      case PUT_CLOSE -> {
        request = onSession(plan.op(), "PUT", session, false);
        request.pairs.add("digest=" + blob.digest());
      }
      case PUT_WITH_BODY -> {
        request = onSession(plan.op(), "PUT", session, false);
        request.pairs.add("digest=" + blob.digest());
        withBody(request, blob.bytes(), r.nextBoolean() ? Framing.LENGTH : Framing.CHUNKED, r);
        request.headers.add(Header.of("Content-Type", OCTETS));
      }
      case MONOLITHIC -> {
        request = new FuzzRequest(plan.op(), "POST", v2 + "/blobs/uploads/");
        request.pairs.add("digest=" + blob.digest());
        withBody(request, blob.bytes(), Framing.LENGTH, r);
        request.headers.add(Header.of("Content-Type", OCTETS));
      }
      case MOUNT -> {
        String from = pick(r, repositories);
        String digest = blob.digest();
        if (r.nextInt(10) < 7) {
          // Something another repository really holds, from there.
          List<String[]> linked = new ArrayList<>();
          for (RegistryStorage.Repository held : storage.repositories()) {
            if (!held.name().equals(repository)) {
              held.linkedLayers().stream().filter(layer -> !avoid.contains(layer))
                  .forEach(layer -> linked.add(new String[] {held.name(), layer}));
            }
          }
          if (!linked.isEmpty()) {
            String[] chosen = linked.get(r.nextInt(linked.size()));
            from = chosen[0];
            digest = chosen[1];
          }
        }
        request = new FuzzRequest(plan.op(), "POST", v2 + "/blobs/uploads/");
        request.pairs.add("mount=" + digest);
        request.pairs.add("from=" + from);
      }
      case MANIFEST_PUT -> {
        Manifest manifest = manifests.get(plan.manifest());
        String reference = r.nextInt(5) < 3 ? "t" + r.nextInt(4) : manifest.digest();
        request = new FuzzRequest(plan.op(), "PUT", v2 + "/manifests/" + reference);
        withBody(request, manifest.bytes(), Framing.LENGTH, r);
        request.headers.add(Header.of("Content-Type", manifest.mediaType()));
      }
      case BLOB_DELETE -> request = new FuzzRequest(plan.op(), "DELETE", v2 + "/blobs/" + heldBlob(r, repository, storage, blob));
      case MANIFEST_DELETE ->
        request = new FuzzRequest(plan.op(), "DELETE", v2 + "/manifests/" + heldManifest(r, repository, storage, true));
      case BLOB_GET -> request = new FuzzRequest(plan.op(), "GET", v2 + "/blobs/" + heldBlob(r, repository, storage, blob));
      case BLOB_HEAD -> request = new FuzzRequest(plan.op(), "HEAD", v2 + "/blobs/" + heldBlob(r, repository, storage, blob));
      case MANIFEST_GET -> {
        request = new FuzzRequest(plan.op(), "GET", v2 + "/manifests/" + heldManifest(r, repository, storage, true));
        request.headers.add(Header.of("Accept", OCI_MANIFEST));
        request.headers.add(Header.of("Accept", DOCKER_MANIFEST));
      }
      case MANIFEST_HEAD -> {
        request = new FuzzRequest(plan.op(), "HEAD", v2 + "/manifests/" + heldManifest(r, repository, storage, true));
        request.headers.add(Header.of("Accept", OCI_MANIFEST));
      }
      case TAGS_LIST -> request = new FuzzRequest(plan.op(), "GET", v2 + "/tags/list");
      case CATALOG -> {
        request = new FuzzRequest(plan.op(), "GET", "/v2/_catalog");
        if (r.nextBoolean()) {
          request.pairs.add("n=" + (1 + r.nextInt(5)));
        }
      }
      case UPLOAD_STATUS -> request = onSession(plan.op(), "GET", session, plan.session() == SessionNeed.TWO_CHUNKS && r.nextBoolean());
      case UPLOAD_CANCEL -> request = onSession(plan.op(), "DELETE", session, plan.session() == SessionNeed.TWO_CHUNKS && r.nextBoolean());
      case BASE -> request = new FuzzRequest(plan.op(), "GET", "/v2/");
      default -> throw new IllegalStateException(plan.op().toString());
    }
    if (plan.op() == Op.PUT_CLOSE && plan.session() == SessionNeed.TWO_CHUNKS && r.nextInt(3) == 0) {
      // Close with the state of before the second chunk: distribution checks the offset.
      request.pairs.clear();
      addQuery(request, session.staleQuery());
      request.pairs.add("digest=" + blob.digest());
      request.mutations.add("STALE_STATE");
    }
    return request;
  }

  private static FuzzRequest onSession(Op op, String method, Session session, boolean stale) {
    FuzzRequest request = new FuzzRequest(op, method, session.path());
    request.uploadId = session.uploadId();
    addQuery(request, stale ? session.staleQuery() : session.query());
    if (stale) {
      request.mutations.add("STALE_STATE");
    }
    return request;
  }

  private static void addQuery(FuzzRequest request, String query) {
    if (query != null && !query.isEmpty()) {
      Collections.addAll(request.pairs, query.split("&", -1));
    }
  }

  private static void withBody(FuzzRequest request, byte[] body, Framing framing, Random r) {
    request.payload = body;
    request.framing = body.length == 0 && framing == Framing.LENGTH ? Framing.LENGTH : framing;
    request.chunkSeed = r.nextLong();
  }

  /** A blob the repository links now (mostly), or one of the pool. */
  private String heldBlob(Random r, String repository, RegistryStorage storage, Blob fallback) {
    RegistryStorage.Repository held = storage.repository(repository);
    if (held != null && !held.linkedLayers().isEmpty() && r.nextInt(10) < 7) {
      return pick(r, new ArrayList<>(held.linkedLayers()));
    }
    return fallback.digest();
  }

  /** A manifest of the repository by digest (mostly), a tag, or a manifest of the pool. */
  private String heldManifest(Random r, String repository, RegistryStorage storage, boolean tags) {
    RegistryStorage.Repository held = storage.repository(repository);
    int roll = r.nextInt(10);
    if (held != null && !held.liveManifests().isEmpty() && roll < 6) {
      return pick(r, new ArrayList<>(held.liveManifests()));
    }
    if (tags && roll < 8) {
      return r.nextInt(5) == 0 ? "latest" : "t" + r.nextInt(4);
    }
    return manifests.get(r.nextInt(manifests.size())).digest();
  }

  // ---------------------------------------------------------------------------------------------
  // Mutations

  private enum Mutation {
    PCT_ENCODE,
    PREFIX_ENCODED,
    METHOD_CASE,
    KEYWORD_CASE,
    SLASHES,
    DOT_SEGMENT,
    ABSOLUTE_FORM,
    FRAGMENT,
    DUP_PARAM,
    REORDER_PARAMS,
    ENCODED_PARAM_NAME,
    SEMICOLON,
    PLUS,
    ENCODED_VALUE,
    EMPTY_PAIRS,
    PARAM_NAME_CASE,
    EXTRA_PARAM,
    DROP_PARAM,
    FORM_BODY,
    FORM_CONTENT_TYPE,
    TWO_CONTENT_TYPES,
    EXPECT_CONTINUE,
    BASIC_AUTH,
    SECOND_LOOPBACK,
    HTTP_1_0,
    CONNECTION_CLOSE,
    HEADER_SPELLING,
    CHUNKED,
    LENGTH_SHORT,
    LENGTH_LONG,
    NO_LENGTH,
    BODY_ON_BODYLESS,
    TE_VARIANT,
    TE_AND_LENGTH,
    UNKNOWN_METHOD,
    OTHER_METHOD,
    MANIFEST_KEYS,
    MANIFEST_TYPE,
    WRONG_DIGEST
  }

  private void mutate(Random r, FuzzRequest request, Plan plan, Session session, RegistryStorage storage) {
    for (int attempt = 0; attempt < 20; attempt++) {
      Mutation mutation = Mutation.values()[r.nextInt(Mutation.values().length)];
      String applied = apply(r, mutation, request, plan, storage);
      if (applied != null) {
        request.mutations.add(applied);
        return;
      }
    }
  }

  /** Applies the mutation if it fits the request; returns its name for the statistics, or null. */
  private String apply(Random r, Mutation mutation, FuzzRequest request, Plan plan, RegistryStorage storage) {
    boolean hasBody = request.payload.length > 0;
    switch (mutation) {
      case PCT_ENCODE -> {
        return percentEncode(r, request);
      }
      case PREFIX_ENCODED -> {
        if (!request.path.startsWith("/v2")) {
          return null;
        }
        String[] prefixes = {"/%762", "/%76%32", "/v%32", "/%56%32", "/V2", "/%76%322"};
        request.path = pick(r, prefixes) + request.path.substring(3);
        return "PREFIX_ENCODED";
      }
      case METHOD_CASE -> {
        String lower = request.method.toLowerCase(Locale.ROOT);
        request.method = r.nextBoolean() ? lower : flipSomeCase(r, request.method);
        return request.method.equals(request.method.toUpperCase(Locale.ROOT)) ? null : "METHOD_CASE";
      }
      case KEYWORD_CASE -> {
        List<String> present = KEYWORDS.stream().filter(k -> request.path.contains(k)).toList();
        if (present.isEmpty()) {
          return null;
        }
        String keyword = pick(r, present);
        String changed = flipSomeCase(r, keyword);
        if (changed.equals(keyword)) {
          return null;
        }
        int at = request.path.indexOf(keyword);
        request.path = request.path.substring(0, at) + changed + request.path.substring(at + keyword.length());
        return "KEYWORD_CASE";
      }
      case SLASHES -> {
        List<Integer> slashes = indexesOf(request.path, '/');
        switch (r.nextInt(4)) {
          case 0 -> {
            int at = pick(r, slashes);
            request.path = request.path.substring(0, at) + "/" + request.path.substring(at);
          }
          case 1 -> request.path = "/" + request.path;
          case 2 -> request.path = request.path + "/";
          default -> {
            if (!request.path.endsWith("/")) {
              return null;
            }
            request.path = request.path.substring(0, request.path.length() - 1);
          }
        }
        return "SLASHES";
      }
      case DOT_SEGMENT -> {
        List<Integer> slashes = indexesOf(request.path, '/');
        int at = pick(r, slashes);
        String segment = request.path.substring(at + 1).split("/", 2)[0];
        String[] inserts = {"/.", "/..", "/x/..", "/%2e", "/%2E%2e", "/.%2E", "/x/%2e%2e", "/" + segment + "/..", "/x/..%2f"};
        request.path = request.path.substring(0, at) + pick(r, inserts) + request.path.substring(at);
        return "DOT_SEGMENT";
      }
      case ABSOLUTE_FORM -> {
        if (!request.origin.isEmpty()) {
          return null;
        }
        String[] origins = {"http://" + authority, "http://registry.invalid", "HTTP://" + authority, "http://" + authority + ":"};
        request.origin = pick(r, origins);
        return "ABSOLUTE_FORM";
      }
      case FRAGMENT -> {
        String[] fragments = {"#x", "#/../../x", "#?digest=sha256:0", "#"};
        if (r.nextBoolean() || request.pairs.isEmpty()) {
          request.path = request.path + pick(r, fragments);
        } else {
          request.suffix = pick(r, fragments);
        }
        return "FRAGMENT";
      }
      case DUP_PARAM -> {
        if (request.pairs.isEmpty()) {
          return null;
        }
        String pair = preferDeciding(r, request.pairs);
        String name = pair.split("=", 2)[0];
        String copy = r.nextBoolean() ? pair : name + "=" + otherValue(r, name, storage);
        request.pairs.add(r.nextBoolean() ? 0 : request.pairs.size(), copy);
        return "DUP_PARAM";
      }
      case REORDER_PARAMS -> {
        if (request.pairs.size() < 2) {
          return null;
        }
        Collections.shuffle(request.pairs, r);
        return "REORDER_PARAMS";
      }
      case ENCODED_PARAM_NAME -> {
        int i = deciding(r, request.pairs);
        if (i < 0) {
          return null;
        }
        String[] nameValue = request.pairs.get(i).split("=", 2);
        int at = r.nextInt(nameValue[0].length());
        String name = nameValue[0].substring(0, at) + hex(r, nameValue[0].charAt(at)) + nameValue[0].substring(at + 1);
        request.pairs.set(i, name + (nameValue.length > 1 ? "=" + nameValue[1] : ""));
        return "ENCODED_PARAM_NAME";
      }
      case SEMICOLON -> {
        if (request.pairs.isEmpty()) {
          return null;
        }
        if (request.pairs.size() >= 2 && r.nextBoolean()) {
          String joined = request.pairs.remove(1);
          request.pairs.set(0, request.pairs.get(0) + ";" + joined);
        } else {
          int i = r.nextInt(request.pairs.size());
          request.pairs.set(i, request.pairs.get(i) + (r.nextBoolean() ? ";x=1" : ";"));
        }
        return "SEMICOLON";
      }
      case PLUS -> {
        if (request.pairs.isEmpty()) {
          return null;
        }
        int i = r.nextInt(request.pairs.size());
        String pair = request.pairs.get(i);
        String[] options = {pair.replaceFirst(":", "+"), pair.replaceFirst("=", "=+"), pair + "+", pair.replaceFirst("=", "+=")};
        request.pairs.set(i, pick(r, options));
        return "PLUS";
      }
      case ENCODED_VALUE -> {
        if (request.pairs.isEmpty()) {
          return null;
        }
        int i = r.nextInt(request.pairs.size());
        String[] nameValue = request.pairs.get(i).split("=", 2);
        if (nameValue.length < 2 || nameValue[1].isEmpty()) {
          return null;
        }
        String value = nameValue[1];
        int at = r.nextInt(value.length());
        if (value.charAt(at) == '%') {
          return null;
        }
        request.pairs.set(i, nameValue[0] + "=" + value.substring(0, at) + hex(r, value.charAt(at)) + value.substring(at + 1));
        return "ENCODED_VALUE";
      }
      case EMPTY_PAIRS -> {
        String[] empties = {"", "=", "=x", "x", "&"};
        request.pairs.add(r.nextInt(request.pairs.size() + 1), pick(r, empties));
        request.forceQuery = true;
        return "EMPTY_PAIRS";
      }
      case PARAM_NAME_CASE -> {
        int i = deciding(r, request.pairs);
        if (i < 0) {
          return null;
        }
        String[] nameValue = request.pairs.get(i).split("=", 2);
        String name = flipSomeCase(r, nameValue[0]);
        request.pairs.set(i, name + (nameValue.length > 1 ? "=" + nameValue[1] : ""));
        return name.equals(nameValue[0]) ? null : "PARAM_NAME_CASE";
      }
      case EXTRA_PARAM -> {
        String[] extras = {"n=10", "last=x", "_state=AAAA", "digest=" + poolDigest(r),
            "mount=" + poolDigest(r), "from=" + pick(r, repositories), "digest="};
        request.pairs.add(r.nextInt(request.pairs.size() + 1), pick(r, extras));
        return "EXTRA_PARAM";
      }
      case DROP_PARAM -> {
        if (request.pairs.isEmpty()) {
          return null;
        }
        request.pairs.remove(r.nextInt(request.pairs.size()));
        return "DROP_PARAM";
      }
      case FORM_BODY -> {
        return formBody(r, request, storage);
      }
      case FORM_CONTENT_TYPE -> {
        String boundary = "b" + r.nextInt(1000);
        setHeader(request, "Content-Type", String.format(pick(r, FORM_TYPES), boundary));
        return "FORM_CONTENT_TYPE";
      }
      case TWO_CONTENT_TYPES -> {
        String boundary = "b" + r.nextInt(1000);
        String second = r.nextInt(3) == 0 ? OCTETS : String.format(pick(r, FORM_TYPES), boundary);
        request.headers.add(r.nextBoolean() ? 0 : request.headers.size(), Header.of("Content-Type", second));
        if (request.headers.stream().filter(h -> h.name().equalsIgnoreCase("Content-Type")).count() < 2) {
          request.headers.add(Header.of("Content-Type", OCTETS));
        }
        return "TWO_CONTENT_TYPES";
      }
      case EXPECT_CONTINUE -> {
        if (request.method.equals("HEAD") || request.expectsContinue()) {
          return null;
        }
        String[] values = {"100-continue", "100-Continue", "100-CONTINUE"};
        request.headers.add(Header.of("Expect", pick(r, values)));
        return "EXPECT_CONTINUE";
      }
      case BASIC_AUTH -> {
        String credentials = "fuzzer" + r.nextInt(3) + ":secret";
        request.headers.add(Header.of("Authorization", "Basic "
            + Base64.getEncoder().encodeToString(credentials.getBytes(StandardCharsets.UTF_8))));
        return "BASIC_AUTH";
      }
      case SECOND_LOOPBACK -> {
        request.clientAddress = "127.0.0.2";
        return "SECOND_LOOPBACK";
      }
      case HTTP_1_0 -> {
        if (request.framing == Framing.CHUNKED) {
          return null;
        }
        request.version = "HTTP/1.0";
        return "HTTP_1_0";
      }
      case CONNECTION_CLOSE -> {
        request.headers.add(Header.of("Connection", "close"));
        return "CONNECTION_CLOSE";
      }
      case HEADER_SPELLING -> {
        int i = indexOfHeader(request, "Content-Type");
        String name = r.nextBoolean() ? "content-type" : "CONTENT-TYPE";
        if (i < 0) {
          if (!hasBody || request.framing != Framing.LENGTH) {
            return null;
          }
          request.headers.add(new Header("Content-Length", Integer.toString(request.payload.length),
              (r.nextBoolean() ? "content-length" : "CONTENT-LENGTH") + ":" + request.payload.length));
          return "HEADER_SPELLING";
        }
        String value = request.headers.get(i).value();
        String[] lines = {name + ": " + value, "Content-Type:" + value, "Content-Type:\t " + value + " \t"};
        request.headers.set(i, new Header("Content-Type", value, pick(r, lines)));
        return "HEADER_SPELLING";
      }
      case CHUNKED -> {
        if (!hasBody || request.framing == Framing.CHUNKED || request.version.equals("HTTP/1.0")) {
          return null;
        }
        request.framing = Framing.CHUNKED;
        request.upperHexChunks = r.nextBoolean();
        request.chunkExtensions = r.nextInt(4) == 0;
        request.trailer = r.nextInt(4) == 0;
        return "CHUNKED";
      }
      case LENGTH_SHORT -> {
        if (request.payload.length < 2 || request.framing != Framing.LENGTH) {
          return null;
        }
        request.lengthDelta = -(1 + r.nextInt(request.payload.length - 1));
        return "LENGTH_SHORT";
      }
      case LENGTH_LONG -> {
        if (!hasBody || request.framing != Framing.LENGTH) {
          return null;
        }
        request.lengthDelta = 1 + r.nextInt(4096);
        request.halfClose = true;
        return "LENGTH_LONG";
      }
      case NO_LENGTH -> {
        if (!hasBody || request.framing != Framing.LENGTH) {
          return null;
        }
        request.omitLength = true;
        return "NO_LENGTH";
      }
      case BODY_ON_BODYLESS -> {
        if (hasBody) {
          return null;
        }
        byte[] body = new byte[1 + r.nextInt(64)];
        r.nextBytes(body);
        withBody(request, body, r.nextInt(3) == 0 ? Framing.CHUNKED : Framing.LENGTH, r);
        return "BODY_ON_BODYLESS";
      }
      case TE_VARIANT -> {
        if (!hasBody || request.version.equals("HTTP/1.0")) {
          return null;
        }
        String[] encodings = {"Chunked", "CHUNKED", "gzip, chunked", "chunked, identity", " chunked", "xchunked", "identity"};
        request.framing = Framing.CHUNKED;
        request.transferEncoding = pick(r, encodings);
        return "TE_VARIANT";
      }
      case TE_AND_LENGTH -> {
        if (!hasBody || request.version.equals("HTTP/1.0")) {
          return null;
        }
        request.framing = Framing.CHUNKED;
        request.lengthWithChunked = true;
        request.lengthDelta = r.nextBoolean() ? 0 : -request.payload.length / 2;
        return "TE_AND_LENGTH";
      }
      case UNKNOWN_METHOD -> {
        request.method = pick(r, UNKNOWN_METHODS);
        return "UNKNOWN_METHOD";
      }
      case OTHER_METHOD -> {
        String other = pick(r, STANDARD_METHODS);
        if (other.equals(request.method)) {
          return null;
        }
        request.method = other;
        return "OTHER_METHOD";
      }
      case MANIFEST_KEYS -> {
        if (plan.op() != Op.MANIFEST_PUT) {
          return null;
        }
        String json = new String(request.payload, StandardCharsets.UTF_8);
        String[] variants = {
            json.replace("\"layers\"", "\"Layers\""),
            json.replace("\"layers\"", "\"LAYERS\""),
            json.replaceFirst("\\{", "{\"layers\":[],"),
            json.replace("\"layers\":[", "\"layers\":[],\"LAYERS\":["),
            json.replace("\"config\"", "\"Config\""),
            json.replace("\"digest\"", "\"Digest\"")};
        String changed = pick(r, variants);
        String oldDigest = OciTestClient.digest(request.payload);
        request.payload = changed.getBytes(StandardCharsets.UTF_8);
        if (request.path.endsWith(oldDigest) && r.nextInt(5) != 0) {
          request.path = request.path.substring(0, request.path.length() - oldDigest.length()) + OciTestClient.digest(request.payload);
        }
        return "MANIFEST_KEYS";
      }
      case MANIFEST_TYPE -> {
        if (plan.op() != Op.MANIFEST_PUT) {
          return null;
        }
        String[] types = {DOCKER_MANIFEST, "application/json", OCI_MANIFEST + "; charset=utf-8", OCI_MANIFEST.toUpperCase(Locale.ROOT),
            "application/vnd.oci.image.index.v1+json", "text/plain", ""};
        setHeader(request, "Content-Type", pick(r, types));
        return "MANIFEST_TYPE";
      }
      case WRONG_DIGEST -> {
        int i = indexOfParam(request.pairs, "digest");
        if (i < 0) {
          i = indexOfParam(request.pairs, "mount");
        }
        if (i < 0) {
          return null;
        }
        String[] nameValue = request.pairs.get(i).split("=", 2);
        String digest = nameValue.length > 1 ? nameValue[1] : "";
        String[] wrong = {poolDigest(r), digest.toUpperCase(Locale.ROOT), digest.replace("sha256:", "sha512:"),
            digest.length() > 20 ? digest.substring(0, 20) : "sha256:", "sha256:" + "0".repeat(64)};
        request.pairs.set(i, nameValue[0] + "=" + pick(r, wrong));
        return "WRONG_DIGEST";
      }
      default -> throw new IllegalStateException(mutation.toString());
    }
  }

  /** Percent-encodes one character of the path, chosen by class: a letter, '/', '.', ':', '%', a digit or another. */
  private static String percentEncode(Random r, FuzzRequest request) {
    String path = request.path;
    String[] classes = {"letter", "slash", "dot", "colon", "percent", "digit", "other"};
    String chosen = pick(r, classes);
    List<Integer> candidates = new ArrayList<>();
    for (int i = 0; i < path.length(); i++) {
      char c = path.charAt(i);
      boolean fits = switch (chosen) {
        case "letter" -> Character.isLetter(c);
        case "slash" -> c == '/' && i > 0;
        case "dot" -> c == '.';
        case "colon" -> c == ':';
        case "percent" -> c == '%';
        case "digit" -> Character.isDigit(c);
        default -> c == '-' || c == '_' || c == '=';
      };
      if (fits) {
        candidates.add(i);
      }
    }
    if (candidates.isEmpty()) {
      return null;
    }
    int at = pick(r, candidates);
    request.path = path.substring(0, at) + hex(r, path.charAt(at)) + path.substring(at + 1);
    return "PCT_ENCODE(" + chosen + ")";
  }

  /** Moves the deciding parameters (or puts new ones) into a form body, urlencoded or multipart, under one of the form types. */
  private String formBody(Random r, FuzzRequest request, RegistryStorage storage) {
    List<String> moved = new ArrayList<>();
    for (String pair : new ArrayList<>(request.pairs)) {
      String name = pair.split("=", 2)[0];
      if (DECIDING.contains(name) || name.equals("_state") && r.nextInt(4) == 0) {
        moved.add(pair);
        if (r.nextInt(10) < 7) {
          request.pairs.remove(pair);
        }
      }
    }
    if (moved.isEmpty()) {
      if (r.nextBoolean()) {
        moved.add("digest=" + poolDigest(r));
      } else {
        moved.add("mount=" + otherValue(r, "mount", storage));
        moved.add("from=" + pick(r, repositories));
      }
    }
    String boundary = "fuzz" + r.nextInt(100000);
    String type = String.format(pick(r, FORM_TYPES), boundary);
    byte[] body;
    if (type.toLowerCase(Locale.ROOT).contains("multipart")) {
      StringBuilder parts = new StringBuilder();
      for (String pair : moved) {
        String[] nameValue = pair.split("=", 2);
        parts.append("--").append(boundary).append("\r\nContent-Disposition: form-data; name=\"").append(nameValue[0])
            .append("\"\r\n\r\n").append(nameValue.length > 1 ? nameValue[1] : "").append("\r\n");
      }
      body = parts.append("--").append(boundary).append("--\r\n").toString().getBytes(StandardCharsets.US_ASCII);
    } else {
      body = String.join("&", moved).getBytes(StandardCharsets.US_ASCII);
    }
    request.payload = body;
    request.chunkSeed = r.nextLong();
    if (request.framing == Framing.NONE) {
      request.framing = Framing.LENGTH;
    }
    setHeader(request, "Content-Type", type);
    return type.toLowerCase(Locale.ROOT).contains("multipart") ? "FORM_BODY(multipart)" : "FORM_BODY(urlencoded)";
  }

  private String otherValue(Random r, String name, RegistryStorage storage) {
    return switch (name) {
      case "digest", "mount" -> poolDigest(r);
      case "from" -> pick(r, repositories);
      default -> "x" + r.nextInt(100);
    };
  }

  /** A pool blob's digest that may be linked into the request's repository. */
  private String poolDigest(Random r) {
    return blobs.get(pickBlob(r, avoid)).digest();
  }

  private static void setHeader(FuzzRequest request, String name, String value) {
    int i = indexOfHeader(request, name);
    if (i < 0) {
      request.headers.add(Header.of(name, value));
    } else {
      request.headers.set(i, Header.of(name, value));
    }
  }

  private static int indexOfHeader(FuzzRequest request, String name) {
    for (int i = 0; i < request.headers.size(); i++) {
      if (request.headers.get(i).name().equalsIgnoreCase(name)) {
        return i;
      }
    }
    return -1;
  }

  private static int indexOfParam(List<String> pairs, String name) {
    for (int i = 0; i < pairs.size(); i++) {
      if (pairs.get(i).split("=", 2)[0].equals(name)) {
        return i;
      }
    }
    return -1;
  }

  /** A random pair whose name is digest, mount or from; -1 when there is none. */
  private static int deciding(Random r, List<String> pairs) {
    List<Integer> found = new ArrayList<>();
    for (int i = 0; i < pairs.size(); i++) {
      if (DECIDING.contains(pairs.get(i).split("=", 2)[0])) {
        found.add(i);
      }
    }
    return found.isEmpty() ? -1 : pick(r, found);
  }

  private static String preferDeciding(Random r, List<String> pairs) {
    int i = deciding(r, pairs);
    return i >= 0 && r.nextInt(4) != 0 ? pairs.get(i) : pick(r, pairs);
  }

  private static String hex(Random r, char c) {
    String hex = String.format("%%%02X", (int) c & 0xFF);
    return r.nextInt(10) < 7 ? hex : hex.toLowerCase(Locale.ROOT);
  }

  private static String flipSomeCase(Random r, String text) {
    StringBuilder flipped = new StringBuilder(text);
    boolean any = false;
    for (int i = 0; i < flipped.length(); i++) {
      char c = flipped.charAt(i);
      if (Character.isLetter(c) && (r.nextBoolean() || !any && i == flipped.length() - 1)) {
        flipped.setCharAt(i, Character.isUpperCase(c) ? Character.toLowerCase(c) : Character.toUpperCase(c));
        any = true;
      }
    }
    return flipped.toString();
  }

  private static List<Integer> indexesOf(String text, char c) {
    List<Integer> found = new ArrayList<>();
    for (int i = 0; i < text.length(); i++) {
      if (text.charAt(i) == c) {
        found.add(i);
      }
    }
    return found;
  }

  private static <T> T pick(Random r, List<T> items) {
    return items.get(r.nextInt(items.size()));
  }

  private static <T> T pick(Random r, T[] items) {
    return items[r.nextInt(items.length)];
  }
}
