package dev.quotaproxy.metering;

import dev.quotaproxy.metering.QuotaStore.Change;
import dev.quotaproxy.metering.QuotaStore.Commit;
import dev.quotaproxy.metering.QuotaStore.Denial;
import dev.quotaproxy.metering.QuotaStore.EgressCheck;
import dev.quotaproxy.metering.QuotaStore.EgressGrant;
import dev.quotaproxy.metering.QuotaStore.Reservation;
import dev.quotaproxy.metering.QuotaStore.ScopeState;
import dev.quotaproxy.metering.QuotaStore.SizeConflict;
import dev.quotaproxy.config.Limits;
import dev.quotaproxy.oci.Blob;
import dev.quotaproxy.oci.Scopes;
import io.vertx.core.Future;
import io.vertx.redis.client.Response;
import io.vertx.redis.client.ResponseType;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The scopes of one repository (or one scope) and its namespace's keys: lays out a script call in the
 * common layout of common.lua and reads its reply into the store's records. The arithmetic is in the
 * scripts; the key names in {@link QuotaKeys}.
 */
final class ScopePath {
  /** The bare reply of a script that found the namespace's state unknown (common.lua). */
  private static final long UNKNOWN = -1;
  /** The reply {4} of a reserving script on a namespace restored a moment ago (common.lua, recovering). */
  private static final long RECOVERING = 4;
  /**
   * Numbers per scope in a script's state reply: used, reserved, hard, soft, egress, egress window, then
   * repositories, repositories reserved, their hard and soft limits, manifests, manifests reserved, their
   * hard and soft limits.
   */
  static final int STATE_WIDTH = 14;

  private final StoreClient client;
  final String namespace;
  final List<String> scopes;
  final QuotaKeys keys;
  final String repository;
  /** Recorded in the events the call causes. */
  final String user;

  ScopePath(StoreClient client, String repository) {
    this(client, repository, Scopes.of(repository), "");
  }

  ScopePath(StoreClient client, String repository, String user) {
    this(client, repository, Scopes.of(repository), user);
  }

  ScopePath(StoreClient client, String repository, List<String> scopes) {
    this(client, repository, scopes, "");
  }

  ScopePath(StoreClient client, String repository, List<String> scopes, String user) {
    if (repository == null || repository.isEmpty()) {
      throw new IllegalArgumentException("empty repository or scope");
    }
    this.client = client;
    this.repository = repository;
    this.namespace = Scopes.namespace(repository);
    this.scopes = scopes;
    this.keys = QuotaKeys.of(repository);
    this.user = user == null ? "" : user;
  }

  List<String> presentKeys() {
    return keys.presentKeys(scopes);
  }

  List<String> egressKeys() {
    return keys.egressKeys(scopes);
  }

  /** The extra keys of the manifest scripts: manifests:R, refs:R:M, refcount:R, freed, links:R. */
  List<String> manifestKeys(String manifestDigest) {
    return List.of(keys.manifests(repository), keys.references(repository, manifestDigest), keys.referenceCounts(repository),
        keys.freed(), keys.links(repository));
  }

  /** The common layout of common.lua: namespace keys, one key per scope, then the operation's own keys and arguments. */
  Future<Response> run(LuaScripts.Script script, List<String> scopeKeys, List<String> extraKeys, List<String> extraArgs) {
    List<String> allKeys = new ArrayList<>(keys.common());
    allKeys.addAll(scopeKeys);
    allKeys.addAll(extraKeys);
    List<String> args = new ArrayList<>(3 + scopes.size() + extraArgs.size());
    args.add(Integer.toString(scopes.size()));
    args.add(user);
    args.add(Long.toString(client.seen.floor(namespace)));
    args.addAll(scopes);
    args.addAll(extraArgs);
    return client.scripts.run(script, allKeys, args).compose(reply -> {
      if (reply != null && reply.type() == ResponseType.NUMBER && reply.toLong() == UNKNOWN) {
        return Future.failedFuture(new NamespaceStateUnknownException(namespace));
      }
      if (reply != null && reply.type() == ResponseType.MULTI && reply.size() == 1 && reply.get(0).toLong() == RECOVERING) {
        return Future.failedFuture(new NamespaceRecoveringException(namespace));
      }
      return Future.succeededFuture(reply);
    });
  }

  /** The common layout's arguments with no scopes, no user and no floor (the script decides nothing), then {@code args}. */
  static List<String> withoutScopes(List<String> args) {
    List<String> all = new ArrayList<>(args.size() + 3);
    all.add("0");
    all.add("");
    all.add("0");
    all.addAll(args);
    return all;
  }

  /** An optional id as the scripts take it: '' for none. */
  static String orNone(String id) {
    return id == null ? "" : id;
  }

  /** Appends digest, size pairs; blobs listed twice count once (the first of each digest is kept). */
  static void addBlobs(List<String> args, List<Blob> blobs) {
    Map<String, Blob> byDigest = new LinkedHashMap<>();
    for (Blob blob : blobs) {
      byDigest.putIfAbsent(blob.digest(), blob);
    }
    for (Blob blob : byDigest.values()) {
      StoreClient.check(blob.size() >= 0 && blob.size() < StoreClient.MAX_EXACT, "a blob's size must be known and below 2^53: " + blob);
      args.add(blob.digest());
      args.add(Long.toString(blob.size()));
    }
  }

  /** The scope a script named by its 1-based position on the path. */
  String scope(Response position) {
    return scopes.get(position.toInteger() - 1);
  }

  /**
   * {1, granted}, {0, position, used, reserved, hard, requested, held by the request (and its session)[, resource,
   * subject]} (the last two for a count refusal), {2} (retired) or {3, digest, known size, given size}.
   */
  Reservation reservation(Response reply) {
    long outcome = reply.get(0).toLong();
    if (outcome == 1) {
      return new Reservation(reply.get(1).toLong(), null);
    }
    if (outcome == 0) {
      // A count refusal names the count and what would have added to it (see count_refusal in common.lua).
      String resource = reply.size() > 8 ? reply.get(7).toString() : Denial.STORAGE;
      String subject = reply.size() > 8 ? reply.get(8).toString() : null;
      return new Reservation(0, new Denial(scope(reply.get(1)), reply.get(2).toLong(), reply.get(3).toLong(),
          reply.get(4).toLong(), reply.get(5).toLong(), reply.get(6).toLong(), resource, subject));
    }
    if (outcome == 2) {
      return Reservation.RETIRED;
    }
    if (outcome == 3) {
      return new Reservation(0, null, new SizeConflict(reply.get(1).toString(), reply.get(2).toLong(), reply.get(3).toLong()), false);
    }
    throw new IllegalStateException("unexpected reservation reply " + reply);
  }

  /** The count slots a granted reservation holds: {1, granted, slot...} (reserve_bytes, reserve_blobs); none otherwise. */
  static List<String> heldSlots(Response reply) {
    if (reply.size() < 3 || reply.get(0).toLong() != 1) {
      return List.of();
    }
    List<String> slots = new ArrayList<>(reply.size() - 2);
    for (int i = 2; i < reply.size(); i++) {
      slots.add(reply.get(i).toString());
    }
    return slots;
  }

  Change change(Response reply) {
    return new Change(states(reply, 0));
  }

  /** {1, window per scope...} or {0, position, used, limit, window seconds, retry after seconds}. */
  EgressGrant egressGrant(Response reply, long bytes) {
    if (reply.get(0).toLong() == 1) {
      List<String> windows = new ArrayList<>(scopes.size());
      for (int i = 1; i < reply.size(); i++) {
        windows.add(reply.get(i).toString());
      }
      return new EgressGrant(true, bytes, List.copyOf(windows), null);
    }
    return EgressGrant.refused(new EgressCheck(false, scope(reply.get(1)), reply.get(2).toLong(), reply.get(3).toLong(),
        reply.get(4).toLong(), reply.get(5).toLong(), bytes));
  }

  /** {1, size charged, states...}. */
  Commit commit(Response reply) {
    return new Commit(reply.get(0).toLong() == 1, reply.get(1).toLong(), states(reply, 2));
  }

  /** {@link #STATE_WIDTH} numbers per scope from {@code from}. */
  List<ScopeState> states(Response reply, int from) {
    List<ScopeState> states = new ArrayList<>(scopes.size());
    for (int i = 0; i < scopes.size(); i++) {
      int at = from + i * STATE_WIDTH;
      long[] n = new long[STATE_WIDTH];
      for (int j = 0; j < STATE_WIDTH; j++) {
        n[j] = reply.get(at + j).toLong();
      }
      states.add(new ScopeState(scopes.get(i), n[0], n[1], new Limits(n[2], n[3], n[4], n[5], n[8], n[9], n[12], n[13]),
          new ScopeCounts(n[6], n[7], n[10], n[11])));
    }
    return states;
  }
}
