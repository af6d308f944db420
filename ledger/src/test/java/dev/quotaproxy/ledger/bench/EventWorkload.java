package dev.quotaproxy.ledger.bench;

import dev.quotaproxy.ledger.CountsByScope;
import dev.quotaproxy.ledger.LedgerEvent;
import dev.quotaproxy.ledger.LedgerEvent.BlobAdded;
import dev.quotaproxy.ledger.LedgerEvent.BlobRemoved;
import dev.quotaproxy.ledger.LedgerEvent.ManifestAdded;
import dev.quotaproxy.ledger.LedgerEvent.ManifestRemoved;
import dev.quotaproxy.ledger.LedgerEvent.Rejected;
import dev.quotaproxy.ledger.LedgerEvent.TrafficMetered;
import dev.quotaproxy.oci.Scopes;
import dev.quotaproxy.ledger.StreamPosition;
import io.vertx.sqlclient.Pool;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A registry's activity as the metering store reports it, event by event: image pushes (layers uploaded,
 * or mounted when the namespace has them, a config, the manifest with its references, one traffic event per
 * request that carried bytes), promotions of an image to another repository of the namespace (everything
 * mounted), pulls (the manifest and most of its blobs, each request its own traffic event), manifest
 * deletes (and the blobs no remaining manifest references) and the odd refusal, over 1,000 repositories in
 * 40 namespaces, two or three scopes deep, with 40 base layers shared across all of them.
 *
 * <p>The store's accounting ({@code add_blob}, {@code remove_blob} and {@code drop_manifest} in the Lua
 * scripts) is replayed here, so each event carries the scopes Redis would have charged or freed, and the
 * rows the ledger must hold once every event is applied are known: {@link #verify} compares them. Ids are
 * {@code <namespace>/<ms>-<seq>} in stream order per namespace, the events of one operation sharing its
 * millisecond as the entries of one script call do. Deterministic for a seed; single-threaded.
 */
final class EventWorkload {
  private static final int NAMESPACES = 40;
  private static final int REPOSITORIES_PER_NAMESPACE = 25;
  private static final int SHARED_LAYERS = 40;
  private static final long MIB = 1024 * 1024;

  private final Random random;
  private final List<String> repositories = new ArrayList<>();
  private final Map<String, Repository> state = new HashMap<>();
  private final Map<String, List<String>> users = new HashMap<>();
  private final List<String> sharedLayers = new ArrayList<>();
  /** Scope -> digest -> repositories at or under the scope holding it: the store's present:S. */
  private final Map<String, Map<String, Integer>> present = new HashMap<>();
  private final Map<String, Long> usage = new HashMap<>();
  private final Map<String, Long> sizes = new HashMap<>();
  /** Every digest some event added: the ledger's blobs table never forgets one. */
  private final Set<String> everAdded = new HashSet<>();
  private final Map<String, StreamPosition> newest = new TreeMap<>();
  private final Map<String, Integer> eventsByType = new TreeMap<>();
  private final ArrayDeque<LedgerEvent> pending = new ArrayDeque<>();
  private long clock;
  private long digests;
  private long generated;
  private long ingress;
  private long egress;
  private long pushes;
  private long pulls;
  private long rejections;

  private static final class Repository {
    final String name;
    final String namespace;
    final List<String> scopes;
    /** Manifest digest -> the distinct digests it references. */
    final Map<String, List<String>> manifests = new LinkedHashMap<>();
    /** Digest -> manifests of the repository referencing it. */
    final Map<String, Integer> referenceCounts = new HashMap<>();
    final Set<String> links = new HashSet<>();

    Repository(String name) {
      this.name = name;
      this.namespace = Scopes.namespace(name);
      this.scopes = Scopes.of(name);
    }
  }

  EventWorkload(long seed) {
    random = new Random(seed);
    clock = Instant.now().truncatedTo(ChronoUnit.HOURS).toEpochMilli();
    for (int n = 0; n < NAMESPACES; n++) {
      String namespace = String.format("org%02d", n);
      users.put(namespace, List.of(namespace + "-ci", "alice-" + namespace, "bob-" + namespace, "anonymous"));
      for (int r = 0; r < REPOSITORIES_PER_NAMESPACE; r++) {
        String name = r % 5 < 3
            ? namespace + "/team-" + (r % 4) + "/app-" + r
            : namespace + "/app-" + r;
        repositories.add(name);
        state.put(name, new Repository(name));
      }
    }
    for (int i = 0; i < SHARED_LAYERS; i++) {
      String digest = digest("shared-" + i);
      sharedLayers.add(digest);
      sizes.put(digest, (5 + random.nextInt(60)) * MIB);
    }
  }

  /** The next {@code count} events, in stream order. */
  List<LedgerEvent> take(int count) {
    while (pending.size() < count) {
      step();
    }
    List<LedgerEvent> events = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      events.add(pending.poll());
    }
    return events;
  }

  /** What is left of the last operation: apply it too before {@link #verify}. */
  List<LedgerEvent> rest() {
    return take(pending.size());
  }

  long generated() {
    return generated - pending.size();
  }

  Map<String, Integer> eventsByType() {
    return eventsByType;
  }

  // ---- Operations -------------------------------------------------------------------------------

  private void step() {
    clock += 1 + random.nextInt(4);
    Repository repository = state.get(repositories.get(random.nextInt(repositories.size())));
    List<String> namespaceUsers = users.get(repository.namespace);
    String user = namespaceUsers.get(random.nextInt(namespaceUsers.size() - 1));
    int dice = random.nextInt(100);
    if (dice < 30 || repository.manifests.isEmpty()) {
      if (dice < 3) {
        promote(repository, user);
      } else {
        push(repository, user);
      }
    } else if (dice < 85) {
      pull(repository, random.nextInt(3) == 0 ? "anonymous" : user);
    } else if (dice < 95) {
      List<String> manifests = new ArrayList<>(repository.manifests.keySet());
      deleteManifest(repository, user, manifests.get(random.nextInt(manifests.size())));
    } else {
      reject(repository, user);
    }
  }

  /** An image of a shared base layer, one to three layers of its own and a config, then its manifest. */
  private void push(Repository repository, String user) {
    List<String> references = new ArrayList<>();
    references.add(sharedLayers.get((int) (SHARED_LAYERS * Math.pow(random.nextDouble(), 2))));
    int own = 1 + random.nextInt(3);
    for (int i = 0; i < own; i++) {
      String layer = digest("layer-" + digests++);
      sizes.put(layer, 1 + (long) (random.nextDouble() * 40 * MIB));
      references.add(layer);
    }
    String config = digest("config-" + digests++);
    sizes.put(config, 1000L + random.nextInt(8000));
    references.add(0, config);
    for (String blob : references) {
      upload(repository, user, blob);
    }
    String manifest = digest("manifest-" + digests++);
    sizes.put(manifest, 400L + random.nextInt(2600));
    commitManifest(repository, user, manifest, references);
    traffic(repository, user, sizes.get(manifest), 0, 1, 0);
  }

  /** Another repository's image copied in by a client: every blob mounted, the manifest pushed. */
  private void promote(Repository repository, String user) {
    Repository source = null;
    for (int attempt = 0; attempt < 10 && source == null; attempt++) {
      Repository candidate = state.get(repositories.get(random.nextInt(repositories.size())));
      if (candidate != repository && candidate.namespace.equals(repository.namespace) && !candidate.manifests.isEmpty()) {
        source = candidate;
      }
    }
    if (source == null) {
      push(repository, user);
      return;
    }
    List<String> manifests = new ArrayList<>(source.manifests.keySet());
    String manifest = manifests.get(random.nextInt(manifests.size()));
    List<String> references = source.manifests.get(manifest);
    for (String blob : references) {
      addBlob(repository, user, blob);
    }
    commitManifest(repository, user, manifest, references);
    traffic(repository, user, sizes.get(manifest), 0, 1, 0);
  }

  /** A blob the repository lacks: mounted if the namespace holds it (no bytes), else uploaded. */
  private void upload(Repository repository, String user, String blob) {
    if (repository.links.contains(blob)) {
      return;
    }
    boolean mounted = present.getOrDefault(repository.namespace, Map.of()).containsKey(blob);
    addBlob(repository, user, blob);
    if (!mounted) {
      traffic(repository, user, sizes.get(blob), 0, 0, 0);
    }
  }

  /** commit_manifest: the manifest and its references become present, and the manifest is recorded if new. */
  private void commitManifest(Repository repository, String user, String manifest, List<String> references) {
    addBlob(repository, user, manifest);
    references.forEach(blob -> addBlob(repository, user, blob));
    if (!repository.manifests.containsKey(manifest)) {
      List<String> distinct = List.copyOf(new LinkedHashSet<>(references));
      repository.manifests.put(manifest, distinct);
      distinct.forEach(blob -> repository.referenceCounts.merge(blob, 1, Integer::sum));
      emit(new ManifestAdded(id(repository), at(), repository.name, user, manifest, distinct));
    }
  }

  private void pull(Repository repository, String user) {
    List<String> manifests = new ArrayList<>(repository.manifests.keySet());
    String manifest = manifests.get(random.nextInt(manifests.size()));
    traffic(repository, user, 0, sizes.get(manifest), 0, 1);
    for (String blob : repository.manifests.get(manifest)) {
      if (random.nextInt(10) < 7) {
        traffic(repository, user, 0, sizes.get(blob), 0, 0);
      }
    }
  }

  /** drop_manifest: the manifest leaves, then itself and each blob no remaining manifest references. */
  private void deleteManifest(Repository repository, String user, String manifest) {
    List<String> references = repository.manifests.remove(manifest);
    emit(new ManifestRemoved(id(repository), at(), repository.name, user, manifest));
    List<String> unreferenced = new ArrayList<>();
    for (String blob : references) {
      if (repository.referenceCounts.merge(blob, -1, Integer::sum) <= 0) {
        repository.referenceCounts.remove(blob);
        unreferenced.add(blob);
      }
    }
    if (repository.referenceCounts.getOrDefault(manifest, 0) <= 0) {
      removeBlob(repository, user, manifest);
    }
    for (String blob : unreferenced) {
      if (!repository.manifests.containsKey(blob)) {
        removeBlob(repository, user, blob);
      }
    }
  }

  private void reject(Repository repository, String user) {
    long used = usage.getOrDefault(repository.namespace, 0L);
    rejections++;
    emit(new Rejected(id(repository), at(), repository.name, user, repository.namespace, "storage_bytes",
        1 + random.nextInt(100) * MIB, used, used + random.nextInt(50) * MIB, "storage_limit"));
  }

  /** add_blob: present in the repository and so in every scope of its path; a scope pays on 0 -> 1. */
  private void addBlob(Repository repository, String user, String digest) {
    if (!repository.links.add(digest)) {
      return;
    }
    everAdded.add(digest);
    long size = sizes.get(digest);
    List<String> charged = new ArrayList<>();
    for (String scope : repository.scopes) {
      if (present.computeIfAbsent(scope, s -> new HashMap<>()).merge(digest, 1, Integer::sum) == 1) {
        usage.merge(scope, size, Long::sum);
        charged.add(scope);
      }
    }
    // The repository's first link fills it, as add_blob says.
    emit(new BlobAdded(id(repository), at(), repository.name, user, digest, size, charged, repository.links.size() == 1));
  }

  /** remove_blob: the reverse, freeing each scope where no other repository holds the blob. */
  private void removeBlob(Repository repository, String user, String digest) {
    if (!repository.links.remove(digest)) {
      return;
    }
    long size = sizes.get(digest);
    List<String> freed = new ArrayList<>();
    for (String scope : repository.scopes) {
      Map<String, Integer> holders = present.get(scope);
      if (holders.merge(digest, -1, Integer::sum) <= 0) {
        holders.remove(digest);
        usage.merge(scope, -size, Long::sum);
        freed.add(scope);
      }
    }
    emit(new BlobRemoved(id(repository), at(), repository.name, user, digest, size, freed, repository.links.isEmpty()));
  }

  private void traffic(Repository repository, String user, long in, long out, int push, int pull) {
    ingress += in;
    egress += out;
    pushes += push;
    pulls += pull;
    Instant at = at();
    emit(new TrafficMetered(id(repository), at, repository.name, user, at.truncatedTo(ChronoUnit.HOURS), in, out, push, pull));
  }

  private void emit(LedgerEvent event) {
    pending.add(event);
    generated++;
    eventsByType.merge(event.getClass().getSimpleName(), 1, Integer::sum);
  }

  /** The next stream entry id of the repository's namespace, at the operation's millisecond. */
  private String id(Repository repository) {
    StreamPosition last = newest.get(repository.namespace);
    StreamPosition next = last != null && last.ms() == clock
        ? new StreamPosition(clock, last.seq() + 1)
        : new StreamPosition(clock, 0);
    newest.put(repository.namespace, next);
    return repository.namespace + "/" + next;
  }

  private Instant at() {
    return Instant.ofEpochMilli(clock);
  }

  private static String digest(String text) {
    try {
      byte[] hash = MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
      return "sha256:" + HexFormat.of().formatHex(hash);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  // ---- What the ledger must hold ----------------------------------------------------------------

  /**
   * Compares the ledger's tables with what every event generated so far must have made of them (all of
   * them applied, {@link #rest()} included); returns the differences, empty when it holds exactly that.
   */
  List<String> verify(Pool pool) {
    List<String> wrong = new ArrayList<>();
    long links = 0;
    long manifests = 0;
    long references = 0;
    for (Repository repository : state.values()) {
      links += repository.links.size();
      manifests += repository.manifests.size();
      for (List<String> referenced : repository.manifests.values()) {
        references += referenced.size();
      }
    }
    expect(wrong, "ledger_events rows", generated, BenchPostgres.number(pool, "select count(*) from ledger_events"));
    expect(wrong, "blobs rows", everAdded.size(), BenchPostgres.number(pool, "select count(*) from blobs"));
    expect(wrong, "repository_blobs rows", links, BenchPostgres.number(pool, "select count(*) from repository_blobs"));
    expect(wrong, "manifests rows", manifests, BenchPostgres.number(pool, "select count(*) from manifests"));
    expect(wrong, "manifest_references rows", references, BenchPostgres.number(pool, "select count(*) from manifest_references"));
    expect(wrong, "rejections rows", rejections, BenchPostgres.number(pool, "select count(*) from rejections"));
    expect(wrong, "user traffic ingress", ingress, BenchPostgres.number(pool, "select sum(ingress_bytes) from user_traffic_hourly"));
    expect(wrong, "user traffic egress", egress, BenchPostgres.number(pool, "select sum(egress_bytes) from user_traffic_hourly"));
    expect(wrong, "user traffic pushes", pushes, BenchPostgres.number(pool, "select sum(pushes) from user_traffic_hourly"));
    expect(wrong, "user traffic pulls", pulls, BenchPostgres.number(pool, "select sum(pulls) from user_traffic_hourly"));
    expect(wrong, "namespace ingress (usage_hourly)", ingress,
        BenchPostgres.number(pool, "select sum(ingress_bytes) from usage_hourly where position('/' in scope) = 0"));
    expect(wrong, "namespace egress (usage_hourly)", egress,
        BenchPostgres.number(pool, "select sum(egress_bytes) from usage_hourly where position('/' in scope) = 0"));

    Map<String, Long> expectedUsage = new TreeMap<>();
    usage.forEach((scope, bytes) -> {
      if (bytes != 0) {
        expectedUsage.put(scope, bytes);
      }
    });
    Map<String, Long> ledgerUsage = new TreeMap<>();
    BenchPostgres.sql(pool, "select scope, used_bytes from scope_usage where used_bytes <> 0")
        .forEach(row -> ledgerUsage.put(row.getString(0), row.getLong(1)));
    if (!expectedUsage.equals(ledgerUsage)) {
      int shown = 0;
      Set<String> scopes = new TreeSet<>(expectedUsage.keySet());
      scopes.addAll(ledgerUsage.keySet());
      for (String scope : scopes) {
        if (!Objects.equals(expectedUsage.get(scope), ledgerUsage.get(scope)) && shown++ < 5) {
          wrong.add("scope " + scope + ": expected " + expectedUsage.get(scope) + " bytes, ledger holds " + ledgerUsage.get(scope));
        }
      }
    }
    // The counts the ledger kept from the events equal those of the links and manifests the workload holds.
    Map<String, Long> linksPerRepository = new TreeMap<>();
    Map<String, Long> manifestsPerRepository = new TreeMap<>();
    for (Repository repository : state.values()) {
      linksPerRepository.put(repository.name, (long) repository.links.size());
      manifestsPerRepository.put(repository.name, (long) repository.manifests.size());
    }
    Map<String, String> expectedCounts = new TreeMap<>();
    CountsByScope.rollUp(linksPerRepository, manifestsPerRepository)
        .forEach((scope, counts) -> expectedCounts.put(scope, counts.repositories() + " " + counts.manifests()));
    Map<String, String> ledgerCounts = new TreeMap<>();
    BenchPostgres.sql(pool, "select scope, repositories, manifests from scope_counts where repositories <> 0 or manifests <> 0")
        .forEach(row -> ledgerCounts.put(row.getString(0), row.getLong(1) + " " + row.getLong(2)));
    if (!expectedCounts.equals(ledgerCounts)) {
      wrong.add("scope counts: expected " + expectedCounts.size() + " scopes with counts, the ledger's differ, e.g. "
          + expectedCounts.entrySet().stream().filter(e -> !e.getValue().equals(ledgerCounts.get(e.getKey()))).findFirst()
              .map(e -> e.getKey() + " " + e.getValue() + " vs " + ledgerCounts.get(e.getKey())).orElse("an extra scope in the ledger"));
    }
    Map<String, String> progress = new TreeMap<>();
    BenchPostgres.sql(pool, "select namespace, last_stream_ms, last_stream_seq from namespace_progress")
        .forEach(row -> progress.put(row.getString(0), row.getLong(1) + "-" + row.getLong(2)));
    Map<String, String> expectedProgress = new TreeMap<>();
    newest.forEach((namespace, position) -> expectedProgress.put(namespace, position.toString()));
    if (!expectedProgress.equals(progress)) {
      wrong.add("namespace_progress differs from the newest ids sent");
    }
    return wrong;
  }

  private static void expect(List<String> wrong, String what, long expected, long actual) {
    if (expected != actual) {
      wrong.add(what + ": expected " + expected + ", ledger holds " + actual);
    }
  }
}
