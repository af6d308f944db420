package dev.quotaproxy.proxy.bench;

import dev.quotaproxy.ledger.EmbeddedPostgresServer;
import dev.quotaproxy.ledger.Ledger;
import dev.quotaproxy.ledger.LedgerDatabase;
import dev.quotaproxy.metering.sync.LedgerFeed;
import dev.quotaproxy.oci.Blob;
import dev.quotaproxy.metering.EmbeddedRedis;
import dev.quotaproxy.metering.QuotaKeys;
import dev.quotaproxy.metering.QuotaStore.Rejection;
import dev.quotaproxy.metering.QuotaStore.Traffic;
import dev.quotaproxy.metering.support.StoreOnRedis;
import dev.quotaproxy.metering.QuotaStore;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The proxy's event path end to end: entries appended to the namespaces' Redis streams by the proxy's own
 * Lua scripts (through {@link dev.quotaproxy.metering.RedisQuotaStore}, so each is exactly what common.lua's {@code emit} writes:
 * type, repo, user, then the event's fields), then moved into Postgres by {@link LedgerFeed#feedOnce()}
 * until the streams are drained: read through the consumer group, applied in one transaction per batch,
 * acknowledged and trimmed. Events per second for several batch sizes ({@code ledger.batch-size}, 500 by
 * default).
 *
 * <p>The workload: 500 repositories in 20 namespaces, two or three scopes deep, 16 clients at once pushing
 * images over 20 shared base layers (every blob commit, every upload's traffic, the manifest with its
 * references), pulling (a traffic event per request), deleting manifests and being refused, as the proxy
 * would report them. Filling the streams is not timed; the drain is. Rounds take turns between batch
 * sizes after a warm-up drain.
 *
 * <p>Checked after every drain: the feed handled exactly the entries added, the ledger recorded exactly
 * that many new events, nothing is left pending and the streams are trimmed. At the end: the usage of every
 * scope in Postgres equals Redis's, and the ledger's traffic totals, refusals and manifests equal what the
 * clients did. A difference fails the run (exit 1).
 *
 * <pre>
 * java -cp ... dev.quotaproxy.proxy.bench.LedgerFeedBench [--batch-sizes 100,500,2000] [--events 40000] [--rounds 3]
 *     [--warmup 10000] [--redis-url redis://...] [--postgres-url postgresql://...]
 * </pre>
 * Lines starting {@code RESULT} are for scripts/bench-ledger.sh.
 */
public final class LedgerFeedBench {
  private static final int NAMESPACES = 20;
  private static final int REPOSITORIES_PER_NAMESPACE = 25;
  private static final int CLIENTS = 16;
  private static final int SHARED_LAYERS = 20;
  private static final long MIB = 1024 * 1024;

  private final QuotaStore store;
  private final Redis admin;
  private final List<String> namespaces = new ArrayList<>();
  private final List<Client> clients = new ArrayList<>();
  private final List<Blob> sharedLayers = new ArrayList<>();
  private final AtomicLong ingress = new AtomicLong();
  private final AtomicLong egress = new AtomicLong();
  private final AtomicLong pushes = new AtomicLong();
  private final AtomicLong pulls = new AtomicLong();
  private final AtomicLong rejections = new AtomicLong();

  private LedgerFeedBench(QuotaStore store, Redis admin) {
    this.store = store;
    this.admin = admin;
    List<List<String>> byClient = new ArrayList<>();
    for (int c = 0; c < CLIENTS; c++) {
      byClient.add(new ArrayList<>());
    }
    int index = 0;
    for (int n = 0; n < NAMESPACES; n++) {
      String namespace = String.format("team%02d", n);
      namespaces.add(namespace);
      for (int r = 0; r < REPOSITORIES_PER_NAMESPACE; r++) {
        String repository = r % 5 < 3 ? namespace + "/group-" + (r % 3) + "/svc-" + r : namespace + "/svc-" + r;
        byClient.get(index++ % CLIENTS).add(repository);
      }
    }
    for (int c = 0; c < CLIENTS; c++) {
      clients.add(new Client(c, byClient.get(c)));
    }
    Random random = new Random(7);
    for (int i = 0; i < SHARED_LAYERS; i++) {
      sharedLayers.add(new Blob(digest("shared-" + i), (5 + random.nextInt(60)) * MIB));
    }
  }

  public static void main(String[] arguments) throws Exception {
    Map<String, String> args = arguments(arguments);
    List<Integer> batchSizes = new ArrayList<>();
    for (String size : args.getOrDefault("batch-sizes", "100,500,2000").split(",")) {
      batchSizes.add(Integer.parseInt(size.trim()));
    }
    int eventsPerRound = Integer.parseInt(args.getOrDefault("events", "40000"));
    int rounds = Integer.parseInt(args.getOrDefault("rounds", "3"));
    int warmup = Integer.parseInt(args.getOrDefault("warmup", "10000"));

    Vertx vertx = Vertx.vertx();
    EmbeddedRedis embeddedRedis = args.containsKey("redis-url") ? null : EmbeddedRedis.start();
    String redisUrl = embeddedRedis == null ? args.get("redis-url") : embeddedRedis.url();
    EmbeddedPostgresServer embeddedPostgres = args.containsKey("postgres-url") ? null : EmbeddedPostgresServer.start();
    LedgerDatabase database = embeddedPostgres == null
        ? LedgerDatabase.fromUrl(URI.create(args.get("postgres-url")))
        : embeddedPostgres.database();
    List<String> wrong = new ArrayList<>();
    try {
      database.migrate();
      // As the proxy builds them: the ledger's pool (postgres.pool-size 8), the feed's Redis client (4 connections).
      Pool pool = database.pool(vertx, 8);
      Ledger ledger = new Ledger(pool);
      Redis feedRedis = Redis.createClient(vertx, new RedisOptions().setConnectionString(redisUrl).setMaxPoolSize(4));
      Redis admin = Redis.createClient(vertx, redisUrl);
      StoreOnRedis stores = StoreOnRedis.open(vertx, redisUrl, 16, Duration.ofHours(1));
      stores.client().loadScripts().await(10, TimeUnit.SECONDS);
      LedgerFeedBench bench = new LedgerFeedBench(stores.store(), admin);
      if (count(pool, "select count(*) from ledger_events") != 0
          || bench.streamLengths().values().stream().mapToLong(Long::longValue).sum() != 0) {
        throw new IllegalStateException("give the benchmark an empty ledger and a Redis without quota-proxy streams");
      }
      Row settings = pool.query("""
          select split_part(current_setting('server_version'), ' ', 1), current_setting('synchronous_commit'), current_setting('fsync')""")
          .execute().await(10, TimeUnit.SECONDS).iterator().next();
      String redisVersion = admin.send(Request.cmd(Command.INFO).arg("server")).await(10, TimeUnit.SECONDS).toString()
          .lines().filter(line -> line.startsWith("redis_version:")).findFirst().orElse("redis_version:?").substring(14);
      System.out.printf("ledger feed: Redis %s (%s), Postgres %s (%s, synchronous_commit=%s, fsync=%s); LedgerFeed.feedOnce() "
          + "until the streams are drained, %d namespaces%n", redisVersion, embeddedRedis == null ? "given" : "embedded",
          settings.getString(0), embeddedPostgres == null ? "given" : "embedded", settings.getString(1), settings.getString(2),
          NAMESPACES);

      bench.drain(new LedgerFeed(vertx, feedRedis, ledger, 500, namespace -> io.vertx.core.Future.succeededFuture()), pool,
          bench.fill(warmup), wrong);
      Map<Integer, List<Double>> rates = new LinkedHashMap<>();
      Map<Integer, long[]> totals = new LinkedHashMap<>();
      batchSizes.forEach(size -> {
        rates.put(size, new ArrayList<>());
        totals.put(size, new long[2]);
      });
      for (int round = 0; round < rounds; round++) {
        for (int size : batchSizes) {
          Map<String, Long> added = bench.fill(eventsPerRound);
          long entries = added.values().stream().mapToLong(Long::longValue).sum();
          double seconds = bench.drain(new LedgerFeed(vertx, feedRedis, ledger, size, namespace -> io.vertx.core.Future.succeededFuture()),
              pool, added, wrong);
          rates.get(size).add(entries / seconds);
          totals.get(size)[0] += entries;
          totals.get(size)[1] += batches(added, size);
        }
      }

      System.out.printf("at least %d entries per batch size and round (about %d per namespace), median of %d rounds after "
          + "%d warm-up entries; a batch is read from one namespace's stream, so it holds at most that namespace's backlog%n",
          eventsPerRound, eventsPerRound / NAMESPACES, rounds, warmup);
      System.out.printf("  %6s %10s %22s %11s%n", "batch", "events/s", "(min - max of rounds)", "mean batch");
      rates.forEach((size, perRound) -> {
        List<Double> sorted = perRound.stream().sorted().toList();
        double median = sorted.size() % 2 == 1
            ? sorted.get(sorted.size() / 2)
            : (sorted.get(sorted.size() / 2 - 1) + sorted.get(sorted.size() / 2)) / 2;
        double meanBatch = (double) totals.get(size)[0] / totals.get(size)[1];
        StringBuilder each = new StringBuilder();
        perRound.forEach(rate -> each.append(String.format(Locale.ROOT, " %.0f", rate)));
        System.out.printf(Locale.ROOT, "  %6d %10.0f %10.0f - %-9.0f %11.0f   rounds in order:%s%n", size, median, sorted.get(0),
            sorted.get(sorted.size() - 1), meanBatch, each);
        System.out.printf(Locale.ROOT, "RESULT feed batch=%d eps=%.0f min=%.0f max=%.0f mean_batch=%.0f%n", size, median,
            sorted.get(0), sorted.get(sorted.size() - 1), meanBatch);
      });
      bench.verify(ledger, pool, wrong);
      stores.close().await(10, TimeUnit.SECONDS);
      pool.close().await(10, TimeUnit.SECONDS);
    } finally {
      vertx.close().await(10, TimeUnit.SECONDS);
      if (embeddedRedis != null) {
        embeddedRedis.close();
      }
      if (embeddedPostgres != null) {
        embeddedPostgres.close();
      }
    }
    wrong.forEach(problem -> System.out.println("FAIL " + problem));
    if (wrong.isEmpty()) {
      System.out.println("check: every drain moved exactly the entries added, each recorded once, nothing left pending, streams "
          + "trimmed; Postgres holds Redis's usage for every scope, and the clients' traffic, refusals and manifests");
    }
    System.out.println(wrong.isEmpty() ? "CHECK feed ok" : "CHECK feed FAILED");
    System.exit(wrong.isEmpty() ? 0 : 1);
  }

  // ---- Filling the streams ----------------------------------------------------------------------

  /**
   * Runs client operations until the streams hold at least {@code events} new entries; gives how many each
   * namespace's stream gained.
   */
  private Map<String, Long> fill(long events) throws Exception {
    Map<String, Long> before = streamLengths();
    Map<String, Long> added = new TreeMap<>();
    while (added.values().stream().mapToLong(Long::longValue).sum() < events) {
      List<Future<Void>> running = new ArrayList<>();
      for (Client client : clients) {
        running.add(client.operations(100));
      }
      Future.all(running).await(120, TimeUnit.SECONDS);
      streamLengths().forEach((namespace, length) -> added.put(namespace, length - before.get(namespace)));
    }
    return added;
  }

  /** One client: its repositories, what it pushed to them, one operation at a time. Touched by one chain at a time. */
  private final class Client {
    final int number;
    final List<String> repositories;
    final Random random;
    final Map<String, Map<String, List<Blob>>> manifests = new HashMap<>();
    final Map<String, Set<String>> uploaded = new HashMap<>();
    long digests;

    Client(int number, List<String> repositories) {
      this.number = number;
      this.repositories = repositories;
      this.random = new Random(1000 + number);
      repositories.forEach(repository -> {
        manifests.put(repository, new LinkedHashMap<>());
        uploaded.put(repository, new HashSet<>());
      });
    }

    Future<Void> operations(int count) {
      Future<Void> done = Future.succeededFuture();
      for (int i = 0; i < count; i++) {
        done = done.compose(ignored -> operation());
      }
      return done;
    }

    private Future<Void> operation() {
      String repository = repositories.get(random.nextInt(repositories.size()));
      String namespace = repository.substring(0, repository.indexOf('/'));
      String[] users = {"ci-" + namespace, "alice", "bob"};
      String user = users[random.nextInt(users.length)];
      Map<String, List<Blob>> pushed = manifests.get(repository);
      int dice = random.nextInt(100);
      if (dice < 30 || pushed.isEmpty()) {
        return push(repository, user);
      } else if (dice < 85) {
        return pull(repository, random.nextInt(3) == 0 ? "" : user, pushed);
      } else if (dice < 95) {
        List<String> digests = new ArrayList<>(pushed.keySet());
        String manifest = digests.get(random.nextInt(digests.size()));
        pushed.remove(manifest);
        return store.dropManifest(repository, manifest, user).mapEmpty();
      } else {
        rejections.incrementAndGet();
        return store.recordRejection(repository, user,
            new Rejection(namespace, "storage_bytes", random.nextInt(100) * MIB, 10 * MIB, 11 * MIB, "storage_limit"));
      }
    }

    /** Config and layers committed one by one (each upload metered), then the manifest, then its PUT metered. */
    private Future<Void> push(String repository, String user) {
      List<Blob> references = new ArrayList<>();
      references.add(new Blob(digest("config-" + number + "-" + digests++), 1000 + random.nextInt(8000)));
      references.add(sharedLayers.get((int) (SHARED_LAYERS * Math.pow(random.nextDouble(), 2))));
      for (int i = 0, own = 1 + random.nextInt(3); i < own; i++) {
        references.add(new Blob(digest("layer-" + number + "-" + digests++), 1 + (long) (random.nextDouble() * 40 * MIB)));
      }
      Blob manifest = new Blob(digest("manifest-" + number + "-" + digests++), 400 + random.nextInt(2600));
      Set<String> held = uploaded.get(repository);
      Future<Void> done = Future.succeededFuture();
      for (Blob blob : references) {
        String session = "upload-" + number + "-" + digests++;
        done = done.compose(ignored -> store.commitBlob(repository, session, null, blob, user)).compose(ignored -> {
          if (!held.add(blob.digest())) {
            return Future.succeededFuture(); // a layer the repository had: the client skipped its upload
          }
          ingress.addAndGet(blob.size());
          return store.meter(repository, user, new Traffic(blob.size(), 0, 0, 0));
        });
      }
      return done
          .compose(ignored -> store.commitManifest(repository, "manifest-" + digests, manifest, references, user))
          .compose(ignored -> {
            manifests.get(repository).put(manifest.digest(), references);
            ingress.addAndGet(manifest.size());
            pushes.incrementAndGet();
            return store.meter(repository, user, new Traffic(manifest.size(), 0, 1, 0));
          });
    }

    /** The manifest GET (a pull), then most of its blobs, each request metered. */
    private Future<Void> pull(String repository, String user, Map<String, List<Blob>> pushed) {
      List<String> digests = new ArrayList<>(pushed.keySet());
      List<Blob> references = pushed.get(digests.get(random.nextInt(digests.size())));
      long manifestSize = 400 + random.nextInt(2600);
      egress.addAndGet(manifestSize);
      pulls.incrementAndGet();
      Future<Void> done = store.meter(repository, user, new Traffic(0, manifestSize, 0, 1));
      for (Blob blob : references) {
        if (random.nextInt(10) < 7) {
          egress.addAndGet(blob.size());
          done = done.compose(ignored -> store.meter(repository, user, new Traffic(0, blob.size(), 0, 0)));
        }
      }
      return done;
    }
  }

  // ---- Draining and checking --------------------------------------------------------------------

  /** Feeds until a pass handles nothing; checks the feed moved exactly the entries added; gives the seconds. */
  private double drain(LedgerFeed feed, Pool pool, Map<String, Long> added, List<String> wrong) throws Exception {
    long entries = added.values().stream().mapToLong(Long::longValue).sum();
    long eventsBefore = count(pool, "select count(*) from ledger_events");
    long handled = 0;
    long started = System.nanoTime();
    for (int handledNow = -1; handledNow != 0;) {
      handledNow = feed.feedOnce().await(120, TimeUnit.SECONDS);
      handled += handledNow;
    }
    double seconds = (System.nanoTime() - started) / 1e9;
    long recorded = count(pool, "select count(*) from ledger_events") - eventsBefore;
    if (handled != entries || recorded != entries) {
      wrong.add("a drain of " + entries + " entries handled " + handled + " and recorded " + recorded + " events");
    }
    for (String namespace : namespaces) {
      String stream = QuotaKeys.of(namespace).events();
      long pending = command(Request.cmd(Command.XPENDING).arg(stream).arg("ledger")).get(0).toLong();
      long left = command(Request.cmd(Command.XLEN).arg(stream)).toLong();
      if (pending != 0 || left > 1) {
        wrong.add(stream + ": " + pending + " entries pending and " + left + " left after the drain");
      }
    }
    return seconds;
  }

  /** Entries in every namespace's stream (a drained stream keeps its last delivered entry). */
  private Map<String, Long> streamLengths() {
    Map<String, Long> lengths = new TreeMap<>();
    for (String namespace : namespaces) {
      lengths.put(namespace, command(Request.cmd(Command.XLEN).arg(QuotaKeys.of(namespace).events())).toLong());
    }
    return lengths;
  }

  /** The transactions a drain of these entries takes: a batch is read from one namespace's stream. */
  private static long batches(Map<String, Long> added, int batchSize) {
    return added.values().stream().mapToLong(entries -> (entries + batchSize - 1) / batchSize).sum();
  }

  private void verify(Ledger ledger, Pool pool, List<String> wrong) throws Exception {
    int scopes = 0;
    for (String namespace : namespaces) {
      Map<String, Long> redis = new TreeMap<>();
      Response used = command(Request.cmd(Command.HGETALL).arg(QuotaKeys.of(namespace).used()));
      if (used.isMap()) {
        used.getKeys().forEach(scope -> redis.put(scope, used.get(scope).toLong()));
      } else {
        for (int i = 0; i + 1 < used.size(); i += 2) {
          redis.put(used.get(i).toString(), used.get(i + 1).toLong());
        }
      }
      redis.values().removeIf(bytes -> bytes == 0);
      Map<String, Long> postgres = new TreeMap<>();
      ledger.namespaceUsage(namespace).await(30, TimeUnit.SECONDS).forEach((scope, bytes) -> {
        if (bytes != 0) {
          postgres.put(scope, bytes);
        }
      });
      if (!redis.equals(postgres)) {
        wrong.add(namespace + ": Postgres holds usage " + postgres + ", Redis " + redis);
      }
      scopes += redis.size();
    }
    expect(wrong, "ingress bytes", ingress.get(), count(pool, "select sum(ingress_bytes) from user_traffic_hourly"));
    expect(wrong, "egress bytes", egress.get(), count(pool, "select sum(egress_bytes) from user_traffic_hourly"));
    expect(wrong, "pushes", pushes.get(), count(pool, "select sum(pushes) from user_traffic_hourly"));
    expect(wrong, "pulls", pulls.get(), count(pool, "select sum(pulls) from user_traffic_hourly"));
    expect(wrong, "refusals", rejections.get(), count(pool, "select count(*) from rejections"));
    long manifests = clients.stream().mapToLong(client -> client.manifests.values().stream().mapToLong(Map::size).sum()).sum();
    expect(wrong, "manifests", manifests, count(pool, "select count(*) from manifests"));
    Map<String, Long> types = new TreeMap<>();
    pool.query("select type, count(*) from ledger_events group by type order by type").execute().await(30, TimeUnit.SECONDS)
        .forEach(row -> types.put(row.getString(0), row.getLong(1)));
    System.out.printf("events by type: %s; %d scopes with usage compared%n", types, scopes);
  }

  private static void expect(List<String> wrong, String what, long expected, long actual) {
    if (expected != actual) {
      wrong.add(what + ": the clients caused " + expected + ", the ledger holds " + actual);
    }
  }

  private Response command(Request request) {
    try {
      return admin.send(request).await(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("Redis command failed: " + request.command(), e);
    }
  }

  private static long count(Pool pool, String sql) throws Exception {
    Long value = pool.query(sql).execute().await(60, TimeUnit.SECONDS).iterator().next().getLong(0);
    return value == null ? 0 : value;
  }

  private static String digest(String text) {
    try {
      byte[] hash = MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
      return "sha256:" + HexFormat.of().formatHex(hash);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static Map<String, String> arguments(String[] args) {
    Map<String, String> values = new HashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      if (!args[i].startsWith("--")) {
        throw new IllegalArgumentException("expected --name value pairs: " + String.join(" ", args));
      }
      values.put(args[i].substring(2), args[i + 1]);
    }
    if (args.length % 2 != 0) {
      throw new IllegalArgumentException("expected --name value pairs: " + String.join(" ", args));
    }
    return values;
  }
}
