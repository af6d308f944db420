package dev.quotaproxy.metering;

import dev.quotaproxy.config.Limits;
import dev.quotaproxy.metering.QuotaStore.ScopeState;
import io.vertx.core.Future;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Usage as those outside the request path read it: the admin API (one scope, every scope, the system),
 * the gauges (scopes near their limits, the system) and the refresh of the read-only switch (the
 * system). Whatever reads every namespace does so through one scan, {@link #eachNamespace}: the
 * namespaces Redis lists, read in pipelined batches.
 *
 * <p>A batch mixes namespaces, so hash slots: it goes through {@link RedisNodes#pipelined}, one pipeline on
 * one Redis, one per namespace on a Redis Cluster.
 */
public final class UsageReader {
  /** Namespaces read per pipelined batch. */
  private static final int NAMESPACES_PER_BATCH = 512;

  private final StoreClient client;
  private final NamespaceGate gate;

  /** Reads through the gate's client; its recovery restores the namespaces system usage finds unknown. */
  public UsageReader(NamespaceGate gate) {
    this.client = gate.client;
    this.gate = gate;
  }

  /** One scope's usage, and whether its namespace's state is known: when not, the numbers are not to be trusted. */
  public record Reading(boolean known, ScopeUsage usage) {}

  /** A scope's usage, limits and egress in its current window (the usage API). */
  public Future<Reading> scopeUsage(String scope) {
    return client.guarded("scope_usage", () -> {
      ScopePath path = new ScopePath(client, scope, List.of(scope));
      return path.run(LuaScripts.SCOPE_USAGE, path.egressKeys(), List.of(), List.of()).map(reply -> {
        ScopeState state = path.states(reply, 1).get(0);
        return new Reading(reply.get(0).toLong() == 1, new ScopeUsage(scope, state.used(), state.reserved(),
            reply.get(1 + ScopePath.STATE_WIDTH).toLong(), state.limits(), state.counts()));
      });
    });
  }

  /**
   * Every scope the store holds usage, reservations or limits for; their egress is not read (0).
   * Expired reservations not yet purged still count as reserved.
   */
  public Future<List<ScopeUsage>> scopes() {
    return client.guarded("all_scopes", () -> QuotaKeys.Namespaces.read(client.redis)
        .compose(listed -> eachNamespace(listed.names(), SCOPES))
        .map(perNamespace -> {
          List<ScopeUsage> scopes = new ArrayList<>();
          perNamespace.forEach(scopes::addAll);
          return scopes;
        }));
  }

  /**
   * Sums the top-level scope's used and reserved bytes of every namespace ever written. Reservations that
   * expired since their namespace was last touched are still counted here; the next call on that
   * namespace purges them.
   *
   * <p>The sum is only made over a complete list whose namespaces' states are all known: a list without
   * its census (Redis lost it) is made complete first, and namespaces found unknown are restored first.
   * If that cannot be done now, the call fails with {@link SystemUsageUnknownException}: a sum over what
   * is left after a loss would read low, and a read-only registry would take pushes again.
   */
  public Future<SystemUsage> systemUsage() {
    return client.guarded("system_usage", () -> sumNamespaces(true, true));
  }

  /** Once each, if needed: the census may be taken, and then the namespaces found unknown restored. */
  private Future<SystemUsage> sumNamespaces(boolean mayTakeCensus, boolean mayRestore) {
    return QuotaKeys.Namespaces.read(client.redis).compose(listed -> {
      if (!listed.complete()) {
        return mayTakeCensus
            ? gate.takeCensus().recover(UsageReader::stillUnknown).compose(v -> sumNamespaces(false, mayRestore))
            : Future.failedFuture(new SystemUsageUnknownException("the list of namespaces is being rebuilt"));
      }
      return eachNamespace(listed.names(), TOP_LEVEL_USAGE).compose(perNamespace -> {
        long used = 0;
        long reserved = 0;
        List<String> unknown = new ArrayList<>();
        for (NamespaceUsage usage : perNamespace) {
          used += usage.used();
          reserved += usage.reserved();
          if (!usage.known()) {
            unknown.add(usage.namespace());
          }
        }
        if (unknown.isEmpty()) {
          return Future.succeededFuture(new SystemUsage(used, reserved));
        }
        if (!mayRestore) {
          return Future.failedFuture(new SystemUsageUnknownException("namespaces " + unknown + " are being restored"));
        }
        List<Future<Void>> restores = new ArrayList<>();
        unknown.forEach(namespace -> restores.add(gate.ensureKnown(namespace)));
        return Future.all(restores).recover(UsageReader::stillUnknown).compose(v -> sumNamespaces(false, false));
      });
    });
  }

  /** A rebuild that failed (the ledger unreachable, say): system usage stays unknown, whatever the cause. */
  private static <T> Future<T> stillUnknown(Throwable cause) {
    return Future.failedFuture(new SystemUsageUnknownException("its rebuild failed: " + cause));
  }

  /** What one namespace is read with (the same number of requests for each), and what their replies say. */
  private interface NamespaceRead<T> {
    List<Request> requests(String namespace, QuotaKeys keys);

    T result(String namespace, List<Response> replies);
  }

  /** Every scope of a namespace, from its used, reserved, limits, counts and slots hashes. */
  private static final NamespaceRead<List<ScopeUsage>> SCOPES = new NamespaceRead<>() {
    @Override
    public List<Request> requests(String namespace, QuotaKeys keys) {
      return List.of(Request.cmd(Command.HGETALL).arg(keys.used()), Request.cmd(Command.HGETALL).arg(keys.reserved()),
          Request.cmd(Command.HGETALL).arg(keys.limits()), Request.cmd(Command.HGETALL).arg(keys.counts()),
          Request.cmd(Command.HGETALL).arg(keys.slots()));
    }

    @Override
    public List<ScopeUsage> result(String namespace, List<Response> replies) {
      Map<String, String> used = hash(replies.get(0));
      Map<String, String> reserved = hash(replies.get(1));
      Map<String, String> limits = hash(replies.get(2));
      Map<String, String> counts = hash(replies.get(3));
      // The slots hash also holds each slot's holders, under fields without '|' (repository names have none).
      Map<String, String> slots = hash(replies.get(4));
      slots.keySet().removeIf(field -> field.indexOf('|') < 0);
      TreeSet<String> names = new TreeSet<>(used.keySet());
      names.addAll(reserved.keySet());
      limits.keySet().forEach(field -> names.add(field.substring(0, field.lastIndexOf('|'))));
      counts.keySet().forEach(field -> names.add(field.substring(0, field.lastIndexOf('|'))));
      slots.keySet().forEach(field -> names.add(field.substring(0, field.lastIndexOf('|'))));
      List<ScopeUsage> scopes = new ArrayList<>(names.size());
      for (String scope : names) {
        scopes.add(new ScopeUsage(scope, parse(used.get(scope), 0), parse(reserved.get(scope), 0), 0, new Limits(
            parse(limits.get(scope + "|hard"), -1), parse(limits.get(scope + "|soft"), -1), parse(limits.get(scope + "|egress"), -1),
            parse(limits.get(scope + "|egress_window"), Limits.UNLIMITED.egressWindowSeconds()),
            parse(limits.get(scope + "|repositories_hard"), -1), parse(limits.get(scope + "|repositories_soft"), -1),
            parse(limits.get(scope + "|manifests_hard"), -1), parse(limits.get(scope + "|manifests_soft"), -1)),
            new ScopeCounts(parse(counts.get(scope + "|repositories"), 0), parse(slots.get(scope + "|repositories"), 0),
                parse(counts.get(scope + "|manifests"), 0), parse(slots.get(scope + "|manifests"), 0))));
      }
      return scopes;
    }
  };

  /** A namespace's top-level used and reserved bytes, and whether its state is known. */
  private record NamespaceUsage(String namespace, long used, long reserved, boolean known) {}

  private static final NamespaceRead<NamespaceUsage> TOP_LEVEL_USAGE = new NamespaceRead<>() {
    @Override
    public List<Request> requests(String namespace, QuotaKeys keys) {
      return List.of(Request.cmd(Command.HGET).arg(keys.used()).arg(namespace),
          Request.cmd(Command.HGET).arg(keys.reserved()).arg(namespace),
          Request.cmd(Command.EXISTS).arg(keys.epoch()));
    }

    @Override
    public NamespaceUsage result(String namespace, List<Response> replies) {
      return new NamespaceUsage(namespace, orZero(replies.get(0)), orZero(replies.get(1)), orZero(replies.get(2)) != 0);
    }
  };

  /**
   * The one scan over many namespaces: each one's requests, sent in pipelined batches of
   * {@link #NAMESPACES_PER_BATCH} namespaces, and what each one's replies say, in the order given.
   */
  private <T> Future<List<T>> eachNamespace(List<String> namespaces, NamespaceRead<T> read) {
    List<Future<List<T>>> batches = new ArrayList<>();
    for (int from = 0; from < namespaces.size(); from += NAMESPACES_PER_BATCH) {
      batches.add(batch(namespaces.subList(from, Math.min(namespaces.size(), from + NAMESPACES_PER_BATCH)), read));
    }
    return Future.all(batches).map(all -> {
      List<T> results = new ArrayList<>(namespaces.size());
      for (int i = 0; i < all.size(); i++) {
        results.addAll(all.resultAt(i));
      }
      return results;
    });
  }

  private <T> Future<List<T>> batch(List<String> namespaces, NamespaceRead<T> read) {
    List<List<Request>> requests = new ArrayList<>(namespaces.size());
    for (String namespace : namespaces) {
      requests.add(read.requests(namespace, QuotaKeys.of(namespace)));
    }
    return RedisNodes.pipelined(client.redis, requests).map(replies -> {
      List<T> results = new ArrayList<>(namespaces.size());
      for (int i = 0; i < namespaces.size(); i++) {
        results.add(read.result(namespaces.get(i), replies.get(i)));
      }
      return results;
    });
  }

  private static Map<String, String> hash(Response reply) {
    Map<String, String> values = new LinkedHashMap<>();
    RedisReplies.forEachField(reply, (field, value) -> values.put(field, value.toString()));
    return values;
  }

  private static long parse(String value, long fallback) {
    try {
      return value == null ? fallback : Long.parseLong(value);
    } catch (NumberFormatException e) {
      return fallback;
    }
  }

  private static long orZero(Response reply) {
    return reply == null ? 0 : reply.toLong();
  }
}
