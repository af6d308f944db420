package dev.quotaproxy.metering;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.quotaproxy.config.Limits;
import dev.quotaproxy.config.SystemSettings;
import dev.quotaproxy.metering.QuotaStore.EgressGrant;
import dev.quotaproxy.metering.QuotaStore.Traffic;
import dev.quotaproxy.metering.support.StoreOnRedis;
import dev.quotaproxy.metering.support.TestRedis;
import dev.quotaproxy.metering.support.TestRedisCluster;
import dev.quotaproxy.oci.Blob;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisConnection;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import io.vertx.redis.client.impl.RequestImpl;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The quota store on a real Redis Cluster of three primaries: the request path's operations over
 * namespaces that live on different nodes give what they give on one Redis; every script call names keys
 * of one slot; and what a node answers for itself only (SCAN, CONFIG GET, SCRIPT LOAD) is asked of every
 * primary. Skipped where redis-server (or redis-cli) is not installed.
 */
class RedisClusterTest {
  private static TestRedisCluster cluster;
  private static TestRedis standalone;
  private static Vertx vertx;
  /** Namespaces whose slots are on three different primaries. */
  private static List<String> namespaces;

  @BeforeAll
  static void startBoth() {
    assumeTrue(TestRedisCluster.available(), "redis-server and redis-cli are not installed");
    cluster = TestRedisCluster.start();
    standalone = TestRedis.start();
    vertx = Vertx.vertx();
    namespaces = TestRedisCluster.namespacesOnEveryPrimary();
  }

  @AfterAll
  static void stopBoth() throws Exception {
    if (vertx != null) {
      vertx.close().await(10, TimeUnit.SECONDS);
    }
    if (standalone != null) {
      standalone.close();
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  @BeforeEach
  void empty() {
    cluster.flushAll();
    standalone.flushAll();
  }

  private static RedisClients clusterClients() {
    return RedisClients.cluster(cluster.urls());
  }

  @Test
  void theNamespacesOfTheTestLiveOnThreeNodes() {
    Set<Integer> owners = new HashSet<>();
    for (String namespace : namespaces) {
      int slot = TestRedisCluster.slot(QuotaKeys.of(namespace).used());
      assertThat(cluster.cli(cluster.ports().get(0), "CLUSTER", "KEYSLOT", QuotaKeys.of(namespace).used()).trim())
          .as("CRC16 of the hash tag, as Redis computes it").isEqualTo(String.valueOf(slot));
      owners.add(slot * 3 / 16384);
    }
    assertThat(owners).hasSize(3);
  }

  @Test
  void theRequestPathGivesOnAClusterWhatItGivesOnOneRedis() {
    List<Object> onOne = run(RedisClients.standalone(standalone.url()));
    List<Object> onCluster = run(clusterClients());

    assertThat(onCluster).isEqualTo(onOne);
    // And it did something: every namespace holds its blob, the system sums all three.
    assertThat(onCluster).contains(new SystemUsage(3 * 1000, 0));
  }

  @Test
  void everyScriptCallNamesKeysOfOneSlot() {
    // Under the Cluster client's wrapper, so that the reads over many namespaces still go by namespace.
    RedisClients clients = clusterClients();
    RecordingRedis recording = new RecordingRedis(Redis.createClient(vertx, clients.options()));
    StoreClient client = StoreClient.over(new ClusterRedis(recording, node -> clients.node(vertx, node)));
    scenario(client, new NamespaceGate(client));

    assertThat(recording.calls).isNotEmpty();
    Set<String> scripts = new TreeSet<>();
    for (Call call : recording.calls) {
      Set<Integer> slots = new TreeSet<>();
      call.keys.forEach(key -> slots.add(TestRedisCluster.slot(key)));
      assertThat(slots).as(call.name + " " + call.keys).hasSizeLessThanOrEqualTo(1);
      if (call.script != null) {
        scripts.add(call.script);
      }
    }
    assertThat(scripts).as("the scripts the request path runs").contains("reserve_bytes", "reserve_blobs", "open_session", "session",
        "commit_blob", "commit_manifest", "drop_blob", "drop_manifest", "release", "settle", "reserve_egress", "settle_egress", "meter",
        "scope", "scope_usage", "put_limits", "put_system", "record_rejection", "intend", "lapsed_intents");
    await(recording.close());
  }

  @Test
  void aScriptOverKeysOfTwoNamespacesIsRefusedByTheCluster() {
    Redis redis = clusterClients().create(vertx);
    try {
      assertThatThrownBy(() -> await(redis.send(Request.cmd(Command.EVAL).arg("return 1").arg(2)
          .arg(QuotaKeys.of(namespaces.get(0)).used()).arg(QuotaKeys.of(namespaces.get(1)).used()))))
          .hasMessageContaining("CROSSSLOT");
    } finally {
      await(redis.close());
    }
  }

  @Test
  void scanFindsTheKeysOfEveryPrimary() {
    Redis redis = clusterClients().create(vertx);
    try {
      for (String namespace : namespaces) {
        await(redis.send(Request.cmd(Command.SET).arg(QuotaKeys.of(namespace).epoch()).arg("new")));
        await(redis.send(Request.cmd(Command.HSET).arg(QuotaKeys.of(namespace).present(namespace)).arg("sha256:a").arg(1)));
      }

      Set<String> markers = await(RedisNodes.scan(redis, QuotaKeys.of("*").epoch()));
      Set<String> present = await(RedisNodes.scan(redis, QuotaKeys.of(namespaces.get(2)).every("present")));

      assertThat(markers).containsExactlyInAnyOrderElementsOf(namespaces.stream().map(n -> QuotaKeys.of(n).epoch()).toList());
      assertThat(present).containsExactly(QuotaKeys.of(namespaces.get(2)).present(namespaces.get(2)));
    } finally {
      await(redis.close());
    }
  }

  @Test
  void scriptsAreLoadedOnEveryPrimaryAndEveryPrimaryMustNotEvict() {
    StoreClient client = StoreClient.create(vertx, clusterClients(), 2);
    try {
      await(client.loadScripts());
      for (int port : cluster.ports()) {
        assertThat(cluster.cli(port, "SCRIPT", "EXISTS", LuaScripts.COMMIT_BLOB.sha()).trim()).as("node " + port).isEqualTo("1");
      }

      await(EvictionPolicy.check(client.redis));
      int last = cluster.ports().get(2);
      cluster.cli(last, "CONFIG", "SET", "maxmemory-policy", "allkeys-lru");
      try {
        assertThatThrownBy(() -> await(EvictionPolicy.check(client.redis))).hasMessageContaining("allkeys-lru");
      } finally {
        cluster.cli(last, "CONFIG", "SET", "maxmemory-policy", "noeviction");
      }
    } finally {
      await(client.close());
    }
  }

  @Test
  void aPipelineOverManyNamespacesKeepsItsOrder() {
    Redis redis = clusterClients().create(vertx);
    try {
      List<List<Request>> groups = new ArrayList<>();
      for (int i = 0; i < 40; i++) {
        String namespace = "ns" + i;
        await(redis.send(Request.cmd(Command.SET).arg(QuotaKeys.of(namespace).epoch()).arg(namespace)));
        groups.add(List.of(Request.cmd(Command.GET).arg(QuotaKeys.of(namespace).epoch()),
            Request.cmd(Command.EXISTS).arg(QuotaKeys.of(namespace).used())));
      }

      List<List<Response>> replies = await(RedisNodes.pipelined(redis, groups));

      assertThat(replies).hasSize(40);
      for (int i = 0; i < 40; i++) {
        assertThat(replies.get(i).get(0).toString()).isEqualTo("ns" + i);
        assertThat(replies.get(i).get(1).toInteger()).isZero();
      }
    } finally {
      await(redis.close());
    }
  }

  // --- the scenario ------------------------------------------------------------------------------

  /** The scenario on a fresh store over this Redis: what each step answered. */
  private List<Object> run(RedisClients redis) {
    StoreOnRedis stores = StoreOnRedis.open(vertx, redis, 4, Duration.ofMinutes(10), EmittedEvents.NONE, new LiveReservations(), null,
        CallTimer.UNTIMED);
    try {
      await(stores.client().loadScripts());
      List<Object> seen = scenario(stores.client(), stores.gate());
      // The streams the ledger feed reads, pipelined over every namespace: the events' kinds and fields, by namespace.
      List<List<Request>> reads = new ArrayList<>();
      namespaces
          .forEach(namespace -> reads.add(List.of(Request.cmd(Command.XRANGE).arg(QuotaKeys.of(namespace).events()).arg("-").arg("+"))));
      List<List<Response>> streams = await(RedisNodes.pipelined(stores.client().redis, reads));
      for (int i = 0; i < namespaces.size(); i++) {
        List<Map<String, String>> events = new ArrayList<>();
        for (Response entry : streams.get(i).get(0)) {
          Map<String, String> fields = new TreeMap<>();
          Response pairs = entry.get(1);
          for (int f = 0; f + 1 < pairs.size(); f += 2) {
            fields.put(pairs.get(f).toString(), pairs.get(f + 1).toString());
          }
          fields.remove("ts"); // the Redis clock's
          fields.remove("at");
          events.add(fields);
        }
        seen.add(namespaces.get(i) + " events " + events);
      }
      return seen;
    } finally {
      await(stores.close());
    }
  }

  /**
   * Every request-path operation, in each namespace: limits, a session, a reserved and committed blob,
   * a manifest, a delete, egress, traffic, a rejection, an intent; then the reads over every namespace.
   */
  private static List<Object> scenario(StoreClient client, NamespaceGate gate) {
    RedisQuotaStore store = new RedisQuotaStore(gate, Duration.ofMinutes(10), new LiveReservations());
    RedisLimits limits = new RedisLimits(client);
    RequestLeases leases = new RequestLeases(client, new LiveReservations(), Duration.ofMinutes(10));
    UsageReader usage = new UsageReader(gate);
    List<Object> seen = new ArrayList<>();
    await(limits.putSystemSettings(new SystemSettings(1L << 40, 0.95, false, false, 30), 0));
    for (String namespace : namespaces) {
      String repository = namespace + "/app";
      Blob layer = new Blob("sha256:" + "a".repeat(63) + namespace.length(), 1000);
      Blob manifest = new Blob("sha256:" + "b".repeat(63) + namespace.length(), 200);
      Blob stray = new Blob("sha256:" + "c".repeat(64), 50);
      seen.add(await(limits.putLimits(namespace, new Limits(1_000_000, -1, 1_000_000, 3600), 0)));
      seen.add(await(store.openSession(repository, "s-" + namespace)));
      seen.add(await(store.reserveBytes(repository, "r1-" + namespace, "s-" + namespace, 1000, 1000)));
      seen.add(await(store.session(repository, "s-" + namespace)));
      seen.add(await(store.intendCommit(repository, "r1-" + namespace, "s-" + namespace, layer.digest())));
      seen.add(await(store.commitBlob(repository, "r1-" + namespace, "s-" + namespace, layer, "alice")));
      seen.add(await(store.reserveBlobs(repository, "r2-" + namespace, List.of(manifest, layer))));
      seen.add(await(store.commitManifest(repository, "r2-" + namespace, manifest, List.of(layer), "alice")));
      seen.add(await(store.reserveBytes(repository, "r3-" + namespace, null, 50, 50)));
      seen.add(await(store.release(repository, "r3-" + namespace, 50)));
      seen.add(await(store.openSession(repository, "s2-" + namespace)));
      seen.add(await(store.reserveBytes(repository, "r4-" + namespace, "s2-" + namespace, 50, 50)));
      seen.add(await(store.settle(repository, "r4-" + namespace, "s2-" + namespace, 50, false)));
      seen.add(await(store.session(repository, "s2-" + namespace)));
      seen.add(await(store.release(repository, "s2-" + namespace, 50)));
      seen.add(await(store.reserveBytes(repository, "r5-" + namespace, null, 2_000_000, 2_000_000)));
      seen.add(await(store.recordRejection(repository, "bob",
          new QuotaStore.Rejection(namespace, "storage_bytes", 2_000_000, 1200, 1_000_000, "storage_limit"))));
      seen.add(await(store.dropManifest(repository, manifest.digest(), "alice")));
      seen.add(await(store.dropBlob(repository, stray.digest(), "alice")));
      Blob kept = new Blob("sha256:" + "d".repeat(63) + namespace.length(), 1000);
      seen.add(await(store.openSession(repository, "s3-" + namespace)));
      seen.add(await(store.reserveBytes(repository, "r6-" + namespace, "s3-" + namespace, 1000, 1000)));
      seen.add(await(store.commitBlob(repository, "r6-" + namespace, "s3-" + namespace, kept, "alice")));
      EgressGrant egress = await(store.reserveEgress(repository, 300));
      seen.add(egress.allowed() + " " + egress.reservedBytes());
      seen.add(await(store.settleEgress(repository, egress, 250)));
      seen.add(await(store.meter(repository, "alice", new Traffic(1000, 250, 1, 1))));
      seen.add(await(store.scope(namespace)));
      seen.add(await(store.sizeOf(namespace, layer.digest())));
      seen.add(await(store.sizesOf(namespace, List.of(layer.digest(), manifest.digest()))));
      seen.add(await(store.namespaceKnown(namespace)));
      seen.add(await(usage.scopeUsage(repository)));
      seen.add(await(leases.lapsedIntents(namespace)).size());
    }
    seen.add(await(leases.keep()));
    seen.add(await(usage.systemUsage()));
    // In the order of the namespaces' set, which neither Redis keeps.
    seen.add(await(usage.scopes()).stream().sorted(java.util.Comparator.comparing(ScopeUsage::scope)).toList());
    seen.add(await(limits.systemSettings()));
    List<String> listed = new ArrayList<>(await(QuotaKeys.Namespaces.read(client.redis)).names());
    Collections.sort(listed);
    seen.add(listed);
    return seen;
  }

  // --- recording ---------------------------------------------------------------------------------

  private record Call(String name, String script, List<String> keys) {}

  /** Passes every request on, noting the keys each script call (EVAL, EVALSHA) names. */
  private static final class RecordingRedis implements Redis {
    private final Redis redis;
    final List<Call> calls = Collections.synchronizedList(new ArrayList<>());

    RecordingRedis(Redis redis) {
      this.redis = redis;
    }

    private void note(Request request) {
      if (request.command() != Command.EVALSHA && request.command() != Command.EVAL) {
        return;
      }
      // The client's own view of the request (the Request interface shows no arguments).
      List<byte[]> args = ((RequestImpl) request).getArgs();
      String body = new String(args.get(0), StandardCharsets.UTF_8);
      String script = null;
      for (LuaScripts.Script known : LuaScripts.ALL) {
        if (known.sha().equals(body) || known.source().equals(body)) {
          script = known.name();
        }
      }
      int count = Integer.parseInt(new String(args.get(1), StandardCharsets.UTF_8));
      List<String> keys = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        keys.add(new String(args.get(2 + i), StandardCharsets.UTF_8));
      }
      calls.add(new Call(request.command().toString(), script, keys));
    }

    @Override
    public Future<RedisConnection> connect() {
      return redis.connect();
    }

    @Override
    public Future<Void> close() {
      return redis.close();
    }

    @Override
    public Future<Response> send(Request request) {
      note(request);
      return redis.send(request);
    }

    @Override
    public Future<List<Response>> batch(List<Request> requests) {
      requests.forEach(this::note);
      return redis.batch(requests);
    }
  }

  private static <T> T await(Future<T> future) {
    try {
      return future.await(20, TimeUnit.SECONDS);
    } catch (RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
