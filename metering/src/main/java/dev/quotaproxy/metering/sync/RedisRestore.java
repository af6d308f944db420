package dev.quotaproxy.metering.sync;

import dev.quotaproxy.ledger.CountsByScope;
import dev.quotaproxy.ledger.Ledger.NamespaceSnapshot;
import dev.quotaproxy.ledger.Ledger.OpenIntent;
import dev.quotaproxy.metering.RequestLeases;
import dev.quotaproxy.oci.Scopes;
import dev.quotaproxy.metering.QuotaKeys;
import dev.quotaproxy.metering.RedisNodes;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Writes a namespace's committed state, as the ledger holds it, into Redis: sizes, which repositories
 * under each scope hold which blobs, what each repository links, used bytes, counts, manifests, their
 * references and reference counts.
 * Reservations (bytes and count slots in flight, which only Redis knows), limits, the event stream and the marker are
 * left as they are. The caller has the namespace's marker removed first, so no decision reads the
 * state half-written, and sets it again after.
 */
final class RedisRestore {
  /** Commands per pipelined batch: big enough to be quick, small enough not to hold Redis long. */
  private static final int BATCH = 1_000;

  private final Redis redis;

  RedisRestore(Redis redis) {
    this.redis = redis;
  }

  /** The Redis state of a snapshot: computed from the repositories' links, so it is consistent by construction. */
  record State(Map<String, Long> sizes, Map<String, Map<String, Long>> present, Map<String, Set<String>> links,
      Map<String, Long> used, Map<String, Set<String>> manifests, Map<String, Map<String, Set<String>>> references,
      Map<String, Map<String, Long>> referenceCounts) {

    static State of(NamespaceSnapshot snapshot) {
      Map<String, Long> sizes = new TreeMap<>();
      Map<String, Map<String, Long>> present = new TreeMap<>();
      Map<String, Set<String>> links = new TreeMap<>();
      Map<String, Set<String>> manifests = new TreeMap<>();
      Map<String, Map<String, Set<String>>> references = new TreeMap<>();
      Map<String, Map<String, Long>> referenceCounts = new TreeMap<>();
      snapshot.repositories().forEach((repository, held) -> {
        sizes.putAll(held.blobs());
        if (!held.blobs().isEmpty()) {
          links.put(repository, held.blobs().keySet());
        }
        for (String scope : Scopes.of(repository)) {
          Map<String, Long> counts = present.computeIfAbsent(scope, s -> new TreeMap<>());
          held.blobs().keySet().forEach(digest -> counts.merge(digest, 1L, Long::sum));
        }
        if (!held.manifests().isEmpty()) {
          manifests.put(repository, held.manifests().keySet());
          references.put(repository, held.manifests());
          Map<String, Long> counts = referenceCounts.computeIfAbsent(repository, r -> new TreeMap<>());
          held.manifests().values().forEach(refs -> refs.forEach(digest -> counts.merge(digest, 1L, Long::sum)));
        }
      });
      Map<String, Long> used = new TreeMap<>();
      present.forEach((scope, counts) -> used.put(scope, counts.keySet().stream().mapToLong(d -> sizes.getOrDefault(d, 0L)).sum()));
      return new State(sizes, present, links, used, manifests, references, referenceCounts);
    }
  }

  Future<Void> write(NamespaceSnapshot snapshot) {
    QuotaKeys keys = QuotaKeys.of(snapshot.namespace());
    State state = State.of(snapshot);
    return keysToClear(keys).compose(stale -> {
      List<Request> commands = new ArrayList<>();
      List<String> cleared = new ArrayList<>(stale);
      cleared.add(keys.used());
      cleared.add(keys.sizes());
      cleared.add(keys.counts());
      cleared.addAll(keys.legacyEpochs());
      cleared.forEach(key -> commands.add(Request.cmd(Command.DEL).arg(key)));
      countCommands(keys, snapshot, commands);
      state.sizes().forEach((digest, size) -> commands.add(Request.cmd(Command.HSET).arg(keys.sizes()).arg(digest).arg(size)));
      state.present().forEach((scope, counts) -> counts
          .forEach((digest, count) -> commands.add(Request.cmd(Command.HSET).arg(keys.present(scope)).arg(digest).arg(count))));
      state.links().forEach((repository, digests) -> digests
          .forEach(digest -> commands.add(Request.cmd(Command.SADD).arg(keys.links(repository)).arg(digest))));
      state.used().forEach((scope, bytes) -> {
        if (bytes > 0) {
          commands.add(Request.cmd(Command.HSET).arg(keys.used()).arg(scope).arg(bytes));
        }
      });
      state.manifests().forEach((repository, digests) -> digests
          .forEach(digest -> commands.add(Request.cmd(Command.SADD).arg(keys.manifests(repository)).arg(digest))));
      state.references().forEach((repository, byManifest) -> byManifest.forEach((manifest, refs) -> refs
          .forEach(digest -> commands.add(Request.cmd(Command.SADD).arg(keys.references(repository, manifest)).arg(digest)))));
      state.referenceCounts().forEach((repository, counts) -> counts.forEach(
          (digest, count) -> commands.add(Request.cmd(Command.HSET).arg(keys.referenceCounts(repository)).arg(digest).arg(count))));
      // When links left their repositories lately (see freed_since in common.lua): a commit settled late from an
      // intent must not charge again what was freed after its request ended, Redis's loss or not. GT: a later
      // time Redis holds stays.
      snapshot.frees().forEach(freed -> commands.add(Request.cmd(Command.ZADD).arg(keys.freed()).arg("GT")
          .arg(freed.at().toEpochMilli()).arg(freed.repository() + " " + freed.digest())));
      return inBatches(commands);
    });
  }

  /** The committed counts of every scope (see common.lua, Counts), as the snapshot's links and manifests give them. */
  private static void countCommands(QuotaKeys keys, NamespaceSnapshot snapshot, List<Request> commands) {
    Map<String, Long> links = new TreeMap<>();
    Map<String, Long> manifests = new TreeMap<>();
    snapshot.repositories().forEach((repository, held) -> {
      links.put(repository, (long) held.blobs().size());
      manifests.put(repository, (long) held.manifests().size());
    });
    CountsByScope.rollUp(links, manifests).forEach((scope, counts) -> {
      if (counts.repositories() > 0) {
        commands.add(Request.cmd(Command.HSET).arg(keys.counts()).arg(scope + "|repositories").arg(counts.repositories()));
      }
      if (counts.manifests() > 0) {
        commands.add(Request.cmd(Command.HSET).arg(keys.counts()).arg(scope + "|manifests").arg(counts.manifests()));
      }
    });
  }

  /**
   * Writes the intents the ledger holds open into the namespace's {@code commits}, each with a fresh lease
   * ({@link RequestLeases#REQUEST_LEASE_MILLIS} from now, on the Redis clock) and not marked unconfirmed,
   * over what Redis holds under its id: the proxy of a request still going renews it (keep.lua), and one whose
   * proxy died lets it lapse, to be settled with the registry (RegistryIntents). An intent whose request id is
   * retired in Redis (its request ended after the snapshot was read) is not written back. The number written.
   */
  Future<Integer> writeIntents(String namespace, Collection<OpenIntent> intents) {
    QuotaKeys keys = QuotaKeys.of(namespace);
    List<OpenIntent> all = List.copyOf(intents);
    Future<Integer> done = Future.succeededFuture(0);
    for (int from = 0; from < all.size(); from += INTENTS_PER_CALL) {
      List<OpenIntent> chunk = all.subList(from, Math.min(all.size(), from + INTENTS_PER_CALL));
      done = done.compose(written -> {
        Request call = Request.cmd(Command.EVAL).arg(REOPEN_INTENTS).arg(2).arg(keys.commits()).arg(keys.reservations())
            .arg(RequestLeases.REQUEST_LEASE_MILLIS);
        for (OpenIntent intent : chunk) {
          // As intend.lua records it (size and references as strings, '' for none); until is set by the script.
          call.arg(intent.requestId()).arg(new JsonObject()
              .put("what", intent.what())
              .put("repo", intent.repository())
              .put("digest", intent.digest())
              .put("session", intent.sessionId())
              .put("size", intent.size() < 0 ? "" : Long.toString(intent.size()))
              .put("refs", intent.references())
              .encode());
        }
        return redis.send(call).map(reply -> written + reply.toInteger());
      });
    }
    return done;
  }

  private static final int INTENTS_PER_CALL = 500;

  private static final String REOPEN_INTENTS = """
      local t = redis.call('TIME')
      local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
      local written = 0
      for i = 2, #ARGV, 2 do
        local reservation = redis.call('HGET', KEYS[2], ARGV[i])
        if not (reservation and cjson.decode(reservation).retired) then
          local intent = cjson.decode(ARGV[i + 1])
          intent['until'] = string.format('%d', now + tonumber(ARGV[1]))
          redis.call('HSET', KEYS[1], ARGV[i], cjson.encode(intent))
          written = written + 1
        end
      end
      return written""";

  /**
   * Every per-scope and per-repository key the namespace has now: they may hold state the ledger no longer
   * has. SCAN sees one node's keys: on a Redis Cluster every primary is scanned.
   */
  private Future<List<String>> keysToClear(QuotaKeys keys) {
    List<String> found = new ArrayList<>();
    Future<Void> all = Future.succeededFuture();
    for (String pattern : List.of(keys.every("present"), keys.every("links"), keys.every("manifests"), keys.every("refs"),
        keys.every("refcount"))) {
      all = all.compose(v -> RedisNodes.scan(redis, pattern).map(matched -> {
        found.addAll(matched);
        return null;
      }));
    }
    return all.map(v -> found);
  }

  private Future<Void> inBatches(List<Request> commands) {
    Future<Void> done = Future.succeededFuture();
    for (int from = 0; from < commands.size(); from += BATCH) {
      List<Request> batch = commands.subList(from, Math.min(commands.size(), from + BATCH));
      done = done.compose(v -> redis.batch(batch).<Void>mapEmpty());
    }
    return done;
  }
}
