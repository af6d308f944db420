package dev.quotaproxy.ledger.bench;

import dev.quotaproxy.oci.Scopes;
import dev.quotaproxy.ledger.support.RealRegistry;
import dev.quotaproxy.ledger.support.RegistryPusher;
import dev.quotaproxy.ledger.support.RegistryPusher.Pushed;
import io.vertx.sqlclient.Pool;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * A registry's content pushed straight into a real registry, and what the ledger must hold once it has
 * walked it. With 1,000 repositories it holds exactly 10,000 distinct blobs (layers, configs and manifests,
 * as the ledger's {@code blobs} table counts them):
 * <ul>
 *   <li>5 namespaces of 200 repositories each, a third directly under the namespace ({@code acme/app-3}),
 *       the rest in one of four teams ({@code acme/team-1/app-5});</li>
 *   <li>20 shared layers: every image sits on one of 10 base layers, and every other repository's also on
 *       one of 10 runtime layers, so each shared layer is in 50 to 100 repositories;</li>
 *   <li>every repository: an image of its own config and 7 or 8 layers of its own, tagged {@code 1} and
 *       {@code latest}; one in five also a second image (own config and 2 layers on the same base), tag
 *       {@code 2}.</li>
 * </ul>
 * Blobs are small (about 1 to 12 KiB): a walk's cost is its requests and rows, not bytes.
 *
 * <p>Out-of-band changes ({@link #changeOutOfBand}) go straight to the registry, as an operator or a client
 * that bypasses the proxy would, and the model follows them, so a reconciliation's result can be checked.
 */
final class SeededRegistry {
  private static final String[] NAMESPACES = {"acme", "globex", "hooli", "initech", "umbrella"};
  private static final int SHARED = 10;

  private final RegistryPusher push;
  private final int repositoryCount;
  /** The shared layers' bytes: pushed to every repository that uses them, as a client without mounts does. */
  private final List<byte[]> bases = new ArrayList<>();
  private final List<byte[]> runtimes = new ArrayList<>();
  private final Map<String, Seeded> repositories = new ConcurrentHashMap<>();
  /** Every digest pushed, with its size: what the ledger's blobs table will have seen. */
  private final Map<String, Long> sizes = new ConcurrentHashMap<>();

  /** One repository as the registry holds it. */
  private static final class Seeded {
    final String name;
    final int index;
    /** Manifest digest -> config and layers, in order; synchronized: seeded on several threads. */
    final Map<String, List<String>> manifests = new LinkedHashMap<>();
    /** Blobs deleted straight in the registry: referenced, but gone. */
    final Set<String> deletedBlobs = new HashSet<>();
    final List<String> ownLayers = new ArrayList<>();
    int tags;
    String second;

    Seeded(String name, int index) {
      this.name = name;
      this.index = index;
    }

    Set<String> links() {
      Set<String> links = new LinkedHashSet<>();
      manifests.forEach((manifest, references) -> {
        links.add(manifest);
        links.addAll(references);
      });
      links.removeAll(deletedBlobs);
      return links;
    }
  }

  SeededRegistry(RealRegistry registry, int repositoryCount) {
    this.push = new RegistryPusher(registry.url());
    this.repositoryCount = repositoryCount;
  }

  static String name(int index) {
    String namespace = NAMESPACES[index % NAMESPACES.length];
    int n = index / NAMESPACES.length;
    return n % 3 == 0 ? namespace + "/app-" + n : namespace + "/team-" + (n % 4) + "/app-" + n;
  }

  /** Pushes everything on {@code threads} threads; returns the seconds it took. */
  double seed(int threads) throws Exception {
    for (int k = 0; k < SHARED; k++) {
      bases.add(RegistryPusher.random(6000 + 500 * k, 1_000_000 + k));
      runtimes.add(RegistryPusher.random(3000 + 300 * k, 2_000_000 + k));
    }
    // Every repository has 7 own layers; the first ones an eighth, so that the total comes to 10 per repository.
    int eighthLayers = Math.max(0, repositoryCount / 5 - 2 * SHARED);
    long started = System.nanoTime();
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int i = 0; i < repositoryCount; i++) {
        int index = i;
        done.add(pool.submit(() -> seedRepository(index, index < eighthLayers ? 8 : 7)));
      }
      for (Future<?> repository : done) {
        repository.get();
      }
    } finally {
      pool.shutdown();
    }
    return (System.nanoTime() - started) / 1e9;
  }

  private Void seedRepository(int index, int ownLayers) {
    String name = name(index);
    Seeded repository = new Seeded(name, index);
    long seed = 10_000_000L + index * 100L;
    Pushed base = upload(name, bases.get(index % SHARED));
    List<Pushed> layers = new ArrayList<>(List.of(base));
    if (index % 2 == 0) {
      layers.add(upload(name, runtimes.get(index / 2 % SHARED)));
    }
    for (int l = 0; l < ownLayers; l++) {
      Pushed layer = upload(name, RegistryPusher.random(1000 + (index * 31 + l * 17) % 2000, seed + 1 + l));
      repository.ownLayers.add(layer.digest());
      layers.add(layer);
    }
    Pushed config = upload(name, RegistryPusher.random(300 + index % 200, seed));
    Pushed image = push.image(name, "1", config, layers.toArray(Pushed[]::new));
    push.image(name, "latest", config, layers.toArray(Pushed[]::new));
    record(repository, image, config, layers);
    repository.tags = 2;

    if (index / NAMESPACES.length % 5 == 2) {
      Pushed secondConfig = upload(name, RegistryPusher.random(350 + index % 100, seed + 50));
      List<Pushed> secondLayers = List.of(base, upload(name, RegistryPusher.random(1500, seed + 51)),
          upload(name, RegistryPusher.random(2500, seed + 52)));
      Pushed second = push.image(name, "2", secondConfig, secondLayers.toArray(Pushed[]::new));
      record(repository, second, secondConfig, secondLayers);
      repository.second = second.digest();
      repository.tags++;
    }
    repositories.put(name, repository);
    return null;
  }

  private Pushed upload(String repository, byte[] content) {
    Pushed pushed = push.blob(repository, content);
    sizes.put(pushed.digest(), pushed.size());
    return pushed;
  }

  private void record(Seeded repository, Pushed manifest, Pushed config, List<Pushed> layers) {
    sizes.put(manifest.digest(), manifest.size());
    List<String> references = new ArrayList<>();
    references.add(config.digest());
    layers.forEach(layer -> references.add(layer.digest()));
    synchronized (repository) {
      repository.manifests.put(manifest.digest(), List.copyOf(new LinkedHashSet<>(references)));
    }
  }

  /**
   * Changes made around the proxy: the second image's manifest deleted in {@code count} repositories, a new
   * image (tag {@code 3}: config and 2 layers of its own on the repository's base) pushed into {@code count}
   * others, one layer of its own deleted straight from {@code count / 2} more, and {@code count / 2}
   * repositories' files removed by hand.
   *
   * @return a line describing what was done
   */
  String changeOutOfBand(RealRegistry registry, int count) throws IOException {
    // In seeding order, which takes the namespaces in turn: the changes spread over all of them.
    List<Seeded> all = repositories.values().stream().sorted(Comparator.comparingInt(r -> r.index)).toList();
    List<Seeded> withSecond = all.stream().filter(repository -> repository.second != null).limit(count).toList();
    List<Seeded> others = all.stream().filter(repository -> repository.second == null).toList();
    for (Seeded repository : withSecond) {
      push.deleteManifest(repository.name, repository.second);
      repository.manifests.remove(repository.second);
      repository.tags--;
    }
    int next = 0;
    for (int i = 0; i < count; i++) {
      Seeded repository = others.get(next++);
      long seed = 90_000_000L + repository.index * 10L;
      Pushed base = upload(repository.name, bases.get(repository.index % SHARED));
      Pushed config = upload(repository.name, RegistryPusher.random(400, seed));
      Pushed first = upload(repository.name, RegistryPusher.random(1200, seed + 1));
      Pushed second = upload(repository.name, RegistryPusher.random(1800, seed + 2));
      Pushed image = push.image(repository.name, "3", config, base, first, second);
      record(repository, image, config, List.of(base, first, second));
      repository.tags++;
    }
    for (int i = 0; i < count / 2; i++) {
      Seeded repository = others.get(next++);
      String layer = repository.ownLayers.get(0);
      push.deleteBlob(repository.name, layer);
      repository.deletedBlobs.add(layer);
    }
    for (int i = 0; i < count / 2; i++) {
      Seeded repository = others.get(next++);
      registry.removeRepositoryFiles(repository.name);
      repositories.remove(repository.name);
    }
    return String.format("deleted the second image's manifest in %d repositories, pushed a new image into %d, "
        + "deleted a layer from %d, removed %d repositories' files", withSecond.size(), count, count / 2, count / 2);
  }

  // ---- What the ledger must hold ----------------------------------------------------------------

  int repositories() {
    return repositories.size();
  }

  int blobs() {
    return sizes.size();
  }

  long links() {
    return repositories.values().stream().mapToLong(repository -> repository.links().size()).sum();
  }

  /**
   * The requests a walk of the registry as it stands makes, at least: the catalog (twice: the walk, and the
   * listing that finds vanished repositories), and per repository its tag list, a manifest GET per tag and a
   * blob HEAD per distinct config and layer. A reconciliation after changes makes a few more.
   */
  long walkRequests() {
    long requests = 2L * (repositories.size() / 1000 + 1);
    for (Seeded repository : repositories.values()) {
      Set<String> blobs = new HashSet<>();
      repository.manifests.values().forEach(blobs::addAll);
      requests += 1 + repository.tags + blobs.size();
    }
    return requests;
  }

  long manifests() {
    return repositories.values().stream().mapToLong(repository -> repository.manifests.size()).sum();
  }

  long references() {
    return repositories.values().stream()
        .mapToLong(repository -> repository.manifests.values().stream().mapToLong(List::size).sum()).sum();
  }

  /** Every scope's usage: the total size of the distinct digests linked at or under it. */
  Map<String, Long> usage() {
    Map<String, Set<String>> digests = new HashMap<>();
    for (Seeded repository : repositories.values()) {
      Set<String> links = repository.links();
      for (String scope : Scopes.of(repository.name)) {
        digests.computeIfAbsent(scope, s -> new HashSet<>()).addAll(links);
      }
    }
    Map<String, Long> usage = new TreeMap<>();
    digests.forEach((scope, held) -> usage.put(scope, held.stream().mapToLong(sizes::get).sum()));
    return usage;
  }

  /** Compares the ledger's tables with the registry's content; returns the differences. */
  List<String> verify(Pool pool) {
    List<String> wrong = new ArrayList<>();
    expect(wrong, "blobs rows", blobs(), BenchPostgres.number(pool, "select count(*) from blobs"));
    expect(wrong, "repository_blobs rows", links(), BenchPostgres.number(pool, "select count(*) from repository_blobs"));
    expect(wrong, "manifests rows", manifests(), BenchPostgres.number(pool, "select count(*) from manifests"));
    expect(wrong, "manifest_references rows", references(), BenchPostgres.number(pool, "select count(*) from manifest_references"));
    expect(wrong, "repositories in the ledger", repositories(),
        BenchPostgres.number(pool,
            "select count(*) from (select repository from repository_blobs union select repository from manifests) r"));
    Map<String, Long> expected = usage();
    Map<String, Long> ledger = new TreeMap<>();
    BenchPostgres.sql(pool, "select scope, used_bytes from scope_usage where used_bytes <> 0")
        .forEach(row -> ledger.put(row.getString(0), row.getLong(1)));
    if (!expected.equals(ledger)) {
      Set<String> scopes = new TreeSet<>(expected.keySet());
      scopes.addAll(ledger.keySet());
      int shown = 0;
      for (String scope : scopes) {
        if (!Objects.equals(expected.get(scope), ledger.get(scope)) && shown++ < 5) {
          wrong.add("scope " + scope + ": expected " + expected.get(scope) + " bytes, ledger holds " + ledger.get(scope));
        }
      }
    }
    return wrong;
  }

  private static void expect(List<String> wrong, String what, long expected, long actual) {
    if (expected != actual) {
      wrong.add(what + ": expected " + expected + ", ledger holds " + actual);
    }
  }
}
