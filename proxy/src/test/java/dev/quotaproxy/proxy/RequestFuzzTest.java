package dev.quotaproxy.proxy;

import static dev.quotaproxy.proxy.support.OciTestClient.digest;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.proxy.fuzz.FuzzRequest;
import dev.quotaproxy.proxy.fuzz.FuzzRequest.Classification;
import dev.quotaproxy.proxy.fuzz.FuzzStats;
import dev.quotaproxy.proxy.fuzz.RequestGenerator;
import dev.quotaproxy.proxy.fuzz.RequestGenerator.Blob;
import dev.quotaproxy.proxy.fuzz.RequestGenerator.Manifest;
import dev.quotaproxy.proxy.fuzz.RequestGenerator.Op;
import dev.quotaproxy.proxy.fuzz.RequestGenerator.Plan;
import dev.quotaproxy.proxy.fuzz.RequestGenerator.Session;
import dev.quotaproxy.proxy.fuzz.RequestGenerator.SessionNeed;
import dev.quotaproxy.proxy.fuzz.StorageChanges;
import dev.quotaproxy.proxy.fuzz.StorageChanges.Change;
import dev.quotaproxy.proxy.fuzz.StorageChanges.Kind;
import dev.quotaproxy.proxy.fuzz.UploadState;
import dev.quotaproxy.proxy.route.OciOperation;
import dev.quotaproxy.metering.QuotaStore.ScopeState;
import dev.quotaproxy.proxy.support.ProxyQuiet;
import dev.quotaproxy.proxy.support.QuotaHarness;
import dev.quotaproxy.proxy.support.QuotaHarness.Deployed;
import dev.quotaproxy.proxy.support.RawHttp;
import dev.quotaproxy.proxy.support.RegistryStorage;
import dev.quotaproxy.proxy.support.StorageInvariant;
import java.io.IOException;
import java.net.InetAddress;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.SortedMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Differential fuzzing of the proxy against the registry behind it (issue 9): generated requests
 * ({@link RequestGenerator}: valid OCI operations, then mutations of method, path, query, headers,
 * body and framing) are sent byte for byte through the proxy to a real CNCF distribution registry,
 * metered in a real Redis. After each:
 * <ol>
 *   <li>every change the request made to the registry's storage that only a write can make
 *       ({@link StorageChanges}: a link added, moved or removed, new blob data, bytes into an upload,
 *       an upload opened or ended) must come from a request the proxy classifies as a write of that
 *       kind, in that repository and upload, and does not refuse: computed with the proxy's own pure
 *       classes on the exact bytes sent ({@link FuzzRequest#classify()});
 *   <li>once the proxy is quiet (no request holds a reservation: {@link ProxyQuiet}), the storage
 *       invariant holds ({@link StorageInvariant}): charge == bytes the registry holds, within the
 *       hard limits.
 * </ol>
 * The hard limits on the fuzzed namespace are small, so refusals happen; when usage nears them,
 * honest deletes through the proxy make room again (also checked).
 *
 * <p>A property run by hand rather than by a property-testing engine: {@code fuzz.tries} tries
 * (default 300, what {@code mvn verify} runs), from {@code fuzz.seed} (default fixed); each try has a
 * seed of its own, derived from both, and the first failure stops the run with the exact request, the
 * storage changes, the classification and the seeds. {@code scripts/fuzz.sh} runs it long. The report
 * (operations, mutation kinds, shapes, refusals by reason, time) is printed and written to
 * {@code fuzz.report} (default {@code target/fuzz-report.txt}).
 */
class RequestFuzzTest {
  private static final long DEFAULT_SEED = 20261206L;
  private static final long FUZZ_LIMIT = 320 * 1024;
  private static final long TEAM_LIMIT = 96 * 1024;
  private static final String LIMITS = """
      quota:
        scopes:
          fuzz:
            storage-hard: %d
          fuzz/team:
            storage-hard: %d
      """.formatted(FUZZ_LIMIT, TEAM_LIMIT);
  /**
   * One namespace only: the system scope's usage is the sum of the namespaces' (README, The system
   * scope), so a blob held in two namespaces is charged twice there, which the invariant (distinct
   * blobs) counts once: a known difference, not what this test looks for.
   */
  private static final List<String> REPOSITORIES = List.of("fuzz/a", "fuzz/b", "fuzz/team/c", "fuzz/x");
  /** Longest a request may go unanswered: the proxy's own deadlines (below) are all shorter. */
  private static final Duration ANSWER = Duration.ofSeconds(20);
  /** How long a client that sent Expect: 100-continue waits for the interim answer before sending anyway, as curl does. */
  private static final Duration CONTINUE_WAIT = Duration.ofSeconds(3);
  private static final Duration QUIET = Duration.ofSeconds(20);

  private static QuotaHarness harness;
  private static Deployed proxy;
  private static ProxyQuiet quiet;
  private static String origin;
  private static String authority;
  private static Path storageRoot;

  private final FuzzStats stats = new FuzzStats();
  /** The storage as of the last exchange: the "before" of the next. */
  private SortedMap<String, String> current;
  /**
   * The latest Location of each upload session, path and query, for cancelling it through the proxy
   * (distribution refuses any other: its {@code _state} must name the offset it holds).
   */
  private final Map<String, String> locations = new HashMap<>();
  /** The last request sent on each upload session: a write that lands late (a chunk cut off) is its. */
  private final Map<String, Sent> lastOnSession = new HashMap<>();
  private final Deque<String> recent = new ArrayDeque<>();
  /** Uploads the registry has ended: their directories (hash states left behind) are not walked again. */
  private final Set<String> endedUploads = new java.util.HashSet<>();
  /**
   * Recent requests that passed the screen but were not answered by the registry through the proxy
   * (the connection closed, or the proxy answered itself part-way): the registry may still have been
   * executing them when the proxy was quiet, so a change that lands later may be theirs.
   */
  private final Deque<Sent> unsettled = new ArrayDeque<>();
  private int reservedSamples;
  private long runSeed;
  private int tryIndex;
  private long trySeed;

  /** A request sent, as the proxy classifies it, and what came back. */
  private record Sent(FuzzRequest request, Classification classification, RawHttp.Reply reply, String ending) {
    String answer() {
      return reply != null ? reply.status() + " " + abbreviate(reply.text(), 300) : ending;
    }
  }

  @BeforeAll
  static void start() throws Exception {
    harness = new QuotaHarness();
    proxy = harness.startProxy(LIMITS,
        "--quota.chunk-reservation", "64KiB",
        "--quota.body-first-byte-timeout", "2s",
        "--quota.manifest-body-timeout", "3s",
        // Above the longest wait for room held by other uploads (QuotaEnforcer: 5 s x 1.5), which
        // the idle watchdog would otherwise take for a silent client and cut off.
        "--upstream.idle-timeout", "10s");
    origin = proxy.client().base();
    authority = URI.create(origin).getAuthority();
    storageRoot = harness.registry().storage();
    quiet = ProxyQuiet.start(harness.vertx(), harness.redis().url(), List.of("fuzz"));
  }

  @AfterAll
  static void stop() throws Exception {
    if (quiet != null) {
      quiet.close();
    }
    if (harness != null) {
      harness.close();
    }
  }

  @Test
  void requestsThatChangeTheRegistryAreClassifiedAsWritesAndTheInvariantHolds() throws Exception {
    int tries = Integer.getInteger("fuzz.tries", 300);
    runSeed = Long.getLong("fuzz.seed", DEFAULT_SEED);
    Random poolRandom = new Random(runSeed);
    List<Blob> blobs = pool(poolRandom);
    List<Manifest> manifests = manifests(poolRandom, blobs);
    RequestGenerator generator = new RequestGenerator(REPOSITORIES, blobs, manifests, authority);
    StorageInvariant invariant = StorageInvariant.of(storageRoot, proxy.stores()).withChargedDigestsFrom(harness.redis());

    long started = System.nanoTime();
    String failure = null;
    try {
      current = StorageChanges.snapshot(storageRoot, endedUploads);
      fixture(generator);
      invariant.check();
      for (tryIndex = 0; tryIndex < tries; tryIndex++) {
        trySeed = new Random(runSeed * 1_000_003L + tryIndex).nextLong();
        oneTry(generator, new Random(trySeed));
        quiet.await(QUIET);
        invariant.check();
        makeRoomIfNeeded();
        stats.tried();
        if ((tryIndex + 1) % 1000 == 0) {
          System.out.printf("fuzz: %d tries, %.0f s%n", tryIndex + 1, (System.nanoTime() - started) / 1e9);
        }
      }
    } catch (AssertionError | Exception e) {
      failure = "at try " + tryIndex + " (run seed " + runSeed + ", try seed " + trySeed + "; reproduce with -Dfuzz.seed=" + runSeed
          + " -Dfuzz.tries=" + (tryIndex + 1) + ")\n" + e.getMessage() + "\nrecent exchanges, oldest first:\n" + String.join("\n", recent);
      throw new AssertionError(failure, e);
    } finally {
      String report = stats.report(runSeed, (System.nanoTime() - started) / 1_000_000, failure);
      System.out.println(report);
      Path file = Path.of(System.getProperty("fuzz.report", "target/fuzz-report.txt"));
      Files.createDirectories(file.toAbsolutePath().getParent());
      Files.writeString(file, report);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // One try

  private void oneTry(RequestGenerator generator, Random r) throws Exception {
    RegistryStorage storage = RegistryStorage.read(storageRoot);
    Plan plan = generator.plan(r, storage);
    Session session = plan.session() == SessionNeed.NONE ? null : openSession(generator, plan, r);
    if (plan.op() == Op.MANIFEST_PUT && r.nextBoolean()) {
      Set<String> unlinkable = RequestGenerator.unlinkable(storage, plan.repository());
      for (int reference : generator.manifest(plan.manifest()).references()) {
        if (!unlinkable.contains(generator.blob(reference).digest())) {
          pushHonestly(plan.repository(), generator.blob(reference));
        }
      }
      storage = RegistryStorage.read(storageRoot);
    }
    FuzzRequest request = generator.build(r, plan, session, storage);
    exchange(request, "fuzz");
    cancelOpenSessions();
  }

  /**
   * An upload session for the plan, opened through the proxy (or, if the proxy refuses or by chance,
   * straight at the registry: an open upload holds nothing), with one chunk or two sent the same way.
   */
  private Session openSession(RequestGenerator generator, Plan plan, Random r) throws Exception {
    boolean direct = r.nextInt(8) == 0;
    String location = null;
    if (!direct) {
      Sent start = exchange(honest(Op.UPLOAD_START, "POST", "/v2/" + plan.repository() + "/blobs/uploads/", null, new byte[0]), "setup");
      if (start.reply() != null && start.reply().status() == 202) {
        location = start.reply().header("Location").orElseThrow();
      } else {
        direct = true;
      }
    }
    if (direct) {
      RawHttp.Reply start = RawHttp.exchange(harness.registry().url(), "POST", "/v2/" + plan.repository() + "/blobs/uploads/", new byte[0]);
      assertThat(start.status()).as("upload start at the registry: %s", start).isEqualTo(202);
      location = start.header("Location").orElseThrow();
      stats.note("sessions opened at the registry");
    }
    String uploadId = uploadId(location);
    locations.put(uploadId, RawHttp.target(location));
    byte[] data = generator.blob(plan.blob()).bytes();
    String stale = null;
    if (plan.session() == SessionNeed.WITH_DATA) {
      location = patch(location, data, direct);
    } else if (plan.session() == SessionNeed.TWO_CHUNKS) {
      int half = Math.max(1, data.length / 2);
      location = patch(location, java.util.Arrays.copyOf(data, half), direct);
      stale = URI.create(location).getRawQuery();
      if (half < data.length) {
        location = patch(location, java.util.Arrays.copyOfRange(data, half, data.length), direct);
      }
    }
    if (direct) {
      current = StorageChanges.snapshot(storageRoot, endedUploads);
    }
    URI uri = URI.create(location);
    return new Session(uploadId, uri.getRawPath(), uri.getRawQuery(), stale != null ? stale : uri.getRawQuery());
  }

  /** A chunk with its length; the Location after it (the same one if it was refused). */
  private String patch(String location, byte[] data, boolean direct) throws Exception {
    RawHttp.Reply reply;
    if (direct) {
      reply = RawHttp.exchange(harness.registry().url(), "PATCH", RawHttp.target(location), data, "Content-Type",
          "application/octet-stream");
    } else {
      FuzzRequest patch = honest(Op.PATCH, "PATCH", RawHttp.target(location), "application/octet-stream", data);
      patch = withUpload(patch, uploadId(location));
      reply = exchange(patch, "setup").reply();
    }
    if (reply != null && reply.status() == 202) {
      String next = reply.header("Location").orElseThrow();
      locations.put(uploadId(next), RawHttp.target(next));
      return next;
    }
    return location;
  }

  /** Start, then a closing PUT with the blob: each checked like any other exchange. */
  private void pushHonestly(String repository, Blob blob) throws Exception {
    Sent start = exchange(honest(Op.UPLOAD_START, "POST", "/v2/" + repository + "/blobs/uploads/", null, new byte[0]), "setup");
    if (start.reply() == null || start.reply().status() != 202) {
      return;
    }
    String location = start.reply().header("Location").orElseThrow();
    String target = RawHttp.target(location) + (location.contains("?") ? "&" : "?") + "digest=" + blob.digest();
    exchange(withUpload(honest(Op.PUT_WITH_BODY, "PUT", target, "application/octet-stream", blob.bytes()), uploadId(location)), "setup");
  }

  /**
   * Cancels, through the proxy, every upload session the registry still has open, so that the next try
   * starts with nothing in flight. distribution takes a cancel only with a {@code _state} naming the
   * offset it holds, which a client whose chunk was stored without its answer, or whose failed close was
   * appended (a wrong digest), does not have; the test knows the registry's secret
   * ({@code RealRegistry}'s {@code http.secret}) and signs a current one, as the registry itself would.
   */
  private void cancelOpenSessions() throws Exception {
    for (String path : List.copyOf(current.keySet())) {
      if (!path.endsWith("/startedat") || !path.contains("/_uploads/")) {
        continue;
      }
      String session = path.substring(0, path.length() - "/startedat".length());
      String id = session.substring(session.lastIndexOf('/') + 1);
      String repository = session.substring("repositories/".length(), session.indexOf("/_uploads/"));
      long size = Long.parseLong(current.getOrDefault(session + "/data", "0"));
      String startedAt = current.get(path).isEmpty()
          ? Files.readString(storageRoot.resolve("docker/registry/v2").resolve(path)).trim()
          : current.get(path);
      String target = "/v2/" + repository + "/blobs/uploads/" + id + "?_state=" + UploadState.sign(repository, id, size, startedAt);
      exchange(withUpload(honest(Op.UPLOAD_CANCEL, "DELETE", target, null, new byte[0]), id), "cleanup");
    }
    locations.clear();
    // Every session has ended: nothing can land in one of them any more.
    lastOnSession.clear();
    quiet.await(QUIET);
    long reserved = harness.scope(proxy.store(), "fuzz").reserved();
    if (reserved > 0) {
      stats.note("tries ending with bytes reserved although every upload was cancelled");
      if (reservedSamples++ < 5) {
        stats.note("sample: try " + tryIndex + " ended with " + reserved + " bytes reserved; registry holds "
            + RegistryStorage.read(storageRoot).openUploads() + " in open uploads; live sessions "
            + quiet.liveSessions().await(10, TimeUnit.SECONDS));
      }
    }
  }

  /** When usage nears a limit: deletes through the proxy every manifest, then every blob, of the fuzzed namespace. */
  private void makeRoomIfNeeded() throws Exception {
    ScopeState fuzz = harness.scope(proxy.store(), "fuzz");
    ScopeState team = harness.scope(proxy.store(), "fuzz/team");
    if (fuzz.used() < FUZZ_LIMIT * 3 / 4 && team.used() < TEAM_LIMIT * 3 / 4) {
      return;
    }
    stats.note("room made by deletes");
    for (boolean manifests : new boolean[] {true, false}) {
      RegistryStorage storage = RegistryStorage.read(storageRoot);
      for (RegistryStorage.Repository repository : storage.repositories()) {
        if (!repository.name().startsWith("fuzz/")) {
          continue;
        }
        for (String digest : manifests ? repository.liveManifests() : repository.linkedLayers()) {
          String path = "/v2/" + repository.name() + (manifests ? "/manifests/" : "/blobs/") + digest;
          exchange(honest(manifests ? Op.MANIFEST_DELETE : Op.BLOB_DELETE, "DELETE", path, null, new byte[0]), "janitor");
        }
      }
    }
    quiet.await(QUIET);
    StorageInvariant.of(storageRoot, proxy.stores()).withChargedDigestsFrom(harness.redis()).check();
  }

  // ---------------------------------------------------------------------------------------------
  // One exchange: send, wait for the proxy to be quiet, see what changed, judge

  private Sent exchange(FuzzRequest request, String role) throws Exception {
    Classification classification = request.classify();
    SortedMap<String, String> before = current;
    Sent sent = send(request, classification);
    quiet.await(QUIET);
    SortedMap<String, String> after = StorageChanges.snapshot(storageRoot, endedUploads);
    current = after;
    List<Change> changes = StorageChanges.diff(before, after);
    changes.stream().filter(c -> c.kind() == Kind.UPLOAD_REMOVED).forEach(c -> endedUploads.add(c.uploadId()));
    remember(role, sent, changes);
    List<Classification> makers = judge(role, sent, changes);
    stats.exchange(role, request, classification, sent.reply(), sent.ending(), changes, makers);
    if (sent.reply() != null) {
      sent.reply().header("Location").filter(l -> l.contains("/blobs/uploads/"))
          .ifPresent(location -> locations.put(uploadId(location), RawHttp.target(location)));
    }
    if (request.uploadId() != null) {
      lastOnSession.put(request.uploadId(), sent);
    }
    boolean registryAnswered = sent.reply() != null && sent.reply().header("Docker-Distribution-Api-Version").isPresent();
    if (!registryAnswered && !classification.refused()) {
      unsettled.addFirst(sent);
      while (unsettled.size() > 8) {
        unsettled.removeLast();
      }
    }
    return sent;
  }

  /** Sends the request as written; a client that asked for 100-continue waits for it (or for the answer) before its body. */
  private Sent send(FuzzRequest request, Classification classification) throws Exception {
    InetAddress local = request.clientAddress() == null ? null : InetAddress.getByName(request.clientAddress());
    byte[] wire = request.wire();
    try (RawHttp http = RawHttp.connect(origin, local)) {
      http.write(request.head(authority));
      if (wire.length > 0 && request.expectsContinue()) {
        try {
          RawHttp.Reply interim = http.readInterim(CONTINUE_WAIT);
          if (interim.status() >= 200) {
            return new Sent(request, classification, interim, null);
          }
          stats.note("100 Continue received");
        } catch (SocketTimeoutException none) {
          stats.note("no 100 Continue within " + CONTINUE_WAIT.toSeconds() + " s: body sent anyway");
        } catch (IOException closed) {
          return new Sent(request, classification, null, "connection closed");
        }
      }
      Thread writer = null;
      if (wire.length > 0 || request.halfClose()) {
        writer = new Thread(() -> {
          try {
            if (wire.length > 0) {
              http.write(wire);
            }
            if (request.halfClose()) {
              http.shutdownOutput();
            }
          } catch (IOException refused) {
            // The proxy stopped reading: its answer says why.
          }
        }, "fuzz-body");
        writer.setDaemon(true);
        writer.start();
      }
      try {
        return new Sent(request, classification, http.read(ANSWER, request.isHead()), null);
      } catch (SocketTimeoutException hang) {
        throw new AssertionError("no answer and no close within " + ANSWER.toSeconds() + " s (a hang) to " + request.shape() + ":\n    "
            + request.describe(authority) + "\nclassified as " + classification);
      } catch (IOException closed) {
        stats.note("connection closed without an answer");
        return new Sent(request, classification, null, "connection closed (" + closed.getMessage() + ")");
      } finally {
        if (writer != null) {
          writer.join(ANSWER.toMillis());
        }
      }
    }
  }

  /**
   * Every write-only change must come from a request the proxy classifies as a write that can make it,
   * in the same repository (and upload session), and does not refuse. A change inside an upload
   * session that the request did not address is the last request on that session's (a chunk the
   * registry was still writing when the proxy answered); any other change the request cannot explain
   * may be that of a recent request the proxy ended before the registry answered it ({@link #unsettled}).
   */
  private List<Classification> judge(String role, Sent sent, List<Change> changes) {
    List<String> problems = new ArrayList<>();
    List<Classification> makers = new ArrayList<>();
    for (Change change : changes) {
      Sent responsible = sent;
      if (change.uploadId() != null && !change.uploadId().equals(sent.request().uploadId())
          && change.kind() != Kind.UPLOAD_OPENED && lastOnSession.containsKey(change.uploadId())) {
        responsible = lastOnSession.get(change.uploadId());
        stats.note("late write attributed to the session's last request");
      }
      String problem = problem(change, responsible.classification());
      Classification maker = responsible.classification();
      if (problem != null) {
        for (Sent earlier : unsettled) {
          if (earlier != sent && problem(change, earlier.classification()) == null) {
            // The registry finished an earlier request after the proxy had ended its exchange.
            problem = null;
            maker = earlier.classification();
            stats.note("late write attributed to an earlier request the proxy ended before the registry answered");
            break;
          }
        }
      }
      makers.add(maker);
      if (problem != null) {
        problems.add(change + ":\n      " + problem + (responsible != sent
            ? "\n      (attributed to the last request on that session: " + responsible.request().method() + " "
                + responsible.request().target() + ", classified " + responsible.classification() + ")"
            : ""));
      }
    }
    if (!problems.isEmpty()) {
      throw new AssertionError("a request changed the registry's storage as only a write can, but the proxy does not classify it"
          + " as that write (" + role + " exchange)\nrequest:\n    " + sent.request().describe(authority)
          + "\nanswer: " + sent.answer()
          + "\nclassification: " + sent.classification()
          + "\nstorage changes:\n  " + String.join("\n  ", changes.stream().map(Change::toString).toList())
          + "\nproblems:\n  " + String.join("\n  ", problems));
    }
    return makers;
  }

  private static final Map<Kind, Set<OciOperation>> WRITES = new LinkedHashMap<>();

  static {
    WRITES.put(Kind.UPLOAD_OPENED, EnumSet.of(OciOperation.UPLOAD_START, OciOperation.UPLOAD_MONOLITHIC, OciOperation.BLOB_MOUNT));
    WRITES.put(Kind.UPLOAD_DATA, EnumSet.of(OciOperation.UPLOAD_CHUNK, OciOperation.UPLOAD_COMPLETE));
    // A chunk the proxy cuts off at a limit has its session cancelled by the proxy (BlobUploadQuota.chunkEndedEarly).
    WRITES.put(Kind.UPLOAD_REMOVED, EnumSet.of(OciOperation.UPLOAD_COMPLETE, OciOperation.UPLOAD_CANCEL, OciOperation.UPLOAD_CHUNK));
    WRITES.put(Kind.BLOB_ADDED, EnumSet.of(OciOperation.UPLOAD_COMPLETE, OciOperation.UPLOAD_MONOLITHIC, OciOperation.MANIFEST_PUT));
    WRITES.put(Kind.LINK_ADDED, EnumSet.of(OciOperation.UPLOAD_COMPLETE, OciOperation.UPLOAD_MONOLITHIC, OciOperation.BLOB_MOUNT,
        OciOperation.MANIFEST_PUT));
    WRITES.put(Kind.LINK_CHANGED, EnumSet.of(OciOperation.MANIFEST_PUT));
    WRITES.put(Kind.LINK_REMOVED, EnumSet.of(OciOperation.BLOB_DELETE, OciOperation.MANIFEST_DELETE));
    WRITES.put(Kind.BLOB_REMOVED, EnumSet.noneOf(OciOperation.class));
  }

  private static String problem(Change change, Classification classification) {
    OciOperation operation = classification.oci().operation();
    if (change.kind() == Kind.BLOB_REMOVED) {
      return "blob data removed, which only garbage collection does (none runs here)";
    }
    if (classification.refused()) {
      return "the proxy's screen refuses this request (" + classification.refusal().get().message() + "), yet the registry executed it";
    }
    Set<OciOperation> writes = WRITES.get(change.kind());
    if (!writes.contains(operation)) {
      return "classified as " + operation + ", which is not a write that makes this change (one of " + writes + ")";
    }
    if (change.repository() != null && !change.repository().equals(classification.oci().repository())) {
      return "the registry wrote in repository " + change.repository() + ", the request was classified for "
          + classification.oci().repository();
    }
    if ((change.kind() == Kind.UPLOAD_DATA || change.kind() == Kind.UPLOAD_REMOVED)
        && !change.uploadId().equals(classification.oci().uploadId())) {
      return "the registry changed upload " + change.uploadId() + ", the request was classified for upload "
          + classification.oci().uploadId();
    }
    return null;
  }

  private void remember(String role, Sent sent, List<Change> changes) {
    recent.addLast("  [" + role + "] " + sent.request().method() + " " + sent.request().target()
        + (sent.request().mutations().isEmpty() ? "" : " " + sent.request().mutations()) + " -> " + abbreviate(sent.answer(), 160)
        + (changes.isEmpty() ? "" : "; " + changes));
    while (recent.size() > 12) {
      recent.removeFirst();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Fixture and pool

  /** Through the proxy: an image in fuzz/a and one in fuzz/team/c, a loose blob in fuzz/b, an image and a blob in fuzz/x. */
  private void fixture(RequestGenerator generator) throws Exception {
    int[] images = {0, 1, 2};
    String[][] where = {{"fuzz/a", "t0"}, {"fuzz/team/c", "t1"}, {"fuzz/x", "t0"}};
    for (int i = 0; i < images.length; i++) {
      Manifest manifest = generator.manifest(images[i]);
      for (int reference : manifest.references()) {
        pushHonestly(where[i][0], generator.blob(reference));
      }
      FuzzRequest put = honest(Op.MANIFEST_PUT, "PUT", "/v2/" + where[i][0] + "/manifests/" + where[i][1], manifest.mediaType(),
          manifest.bytes());
      Sent sent = exchange(put, "setup");
      assertThat(sent.reply()).as("fixture manifest in %s: %s", where[i][0], sent.answer()).isNotNull();
      assertThat(sent.reply().status()).as("fixture manifest in %s: %s", where[i][0], sent.answer()).isEqualTo(201);
    }
    pushHonestly("fuzz/b", generator.blob(3));
    pushHonestly("fuzz/x", generator.blob(4));
    cancelOpenSessions();
    quiet.await(QUIET);
  }

  /** 40 blobs: a quarter under 512 bytes, most up to 16 KiB, a fifth of 32 to 120 KiB (those meet the limits). */
  private static List<Blob> pool(Random r) {
    List<Blob> blobs = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      int roll = r.nextInt(20);
      int size = roll < 5 ? 1 + r.nextInt(512) : roll < 16 ? 512 + r.nextInt(16 * 1024) : 32 * 1024 + r.nextInt(88 * 1024);
      if (i < 5) {
        // The fixture's: small, so that it fits the limits.
        size = 64 + r.nextInt(4096);
      }
      byte[] bytes = new byte[size];
      r.nextBytes(bytes);
      blobs.add(new Blob(bytes, digest(bytes)));
    }
    return blobs;
  }

  /** 24 manifests over the pool, OCI and Docker schema 2, a config and one to three layers each; the first three over the fixture's blobs. */
  private static List<Manifest> manifests(Random r, List<Blob> blobs) {
    List<Manifest> manifests = new ArrayList<>();
    for (int i = 0; i < 24; i++) {
      boolean docker = i >= 3 && r.nextInt(10) < 3;
      List<Integer> references = new ArrayList<>();
      references.add(i < 3 ? i : r.nextInt(blobs.size()));
      int layers = i < 3 ? 1 : 1 + r.nextInt(3);
      for (int l = 0; l < layers; l++) {
        int layer = i < 3 ? (i + 1) % 3 : r.nextInt(blobs.size());
        if (!references.contains(layer)) {
          references.add(layer);
        }
      }
      String mediaType = docker ? "application/vnd.docker.distribution.manifest.v2+json" : "application/vnd.oci.image.manifest.v1+json";
      String configType = docker ? "application/vnd.docker.container.image.v1+json" : "application/vnd.oci.image.config.v1+json";
      String layerType = docker ? "application/vnd.docker.image.rootfs.diff.tar.gzip" : "application/vnd.oci.image.layer.v1.tar+gzip";
      StringBuilder json = new StringBuilder("{\"schemaVersion\":2,\"mediaType\":\"").append(mediaType).append("\",\"config\":")
          .append(descriptor(configType, blobs.get(references.get(0)))).append(",\"layers\":[");
      for (int l = 1; l < references.size(); l++) {
        json.append(l > 1 ? "," : "").append(descriptor(layerType, blobs.get(references.get(l))));
      }
      json.append("],\"annotations\":{\"fuzz\":\"").append(i).append("\"}}");
      byte[] bytes = json.toString().getBytes(StandardCharsets.UTF_8);
      manifests.add(new Manifest(bytes, digest(bytes), mediaType, List.copyOf(references)));
    }
    return manifests;
  }

  private static String descriptor(String mediaType, Blob blob) {
    return "{\"mediaType\":\"" + mediaType + "\",\"digest\":\"" + blob.digest() + "\",\"size\":" + blob.bytes().length + "}";
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  /** An unmutated request, as a registry client sends it. */
  private static FuzzRequest honest(Op op, String method, String target, String contentType, byte[] body) {
    return FuzzRequest.honest(op, method, target, contentType, body);
  }

  private static FuzzRequest withUpload(FuzzRequest request, String uploadId) {
    return request.forUpload(uploadId);
  }

  /** The upload id of a session URL: the last path segment. */
  private static String uploadId(String location) {
    String path = URI.create(location).getRawPath();
    return path.substring(path.lastIndexOf('/') + 1);
  }

  private static String abbreviate(String text, int max) {
    String flat = text.replace("\n", " ");
    return flat.length() > max ? flat.substring(0, max) + "..." : flat;
  }
}
