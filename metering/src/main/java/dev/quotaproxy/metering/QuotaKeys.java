package dev.quotaproxy.metering;

import dev.quotaproxy.oci.Scopes;
import io.vertx.core.Future;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.util.ArrayList;
import java.util.List;

/**
 * The Redis key names of one top-level namespace. Every key of namespace {@code T} starts with
 * {@code qp:{T}:}, so they share a Redis Cluster hash slot and any script over them runs on one shard.
 * Names are built here, never inside Lua: a script may touch only the keys it is given.
 *
 * <p>Layout ({@code S} is a scope of the namespace: {@code acme}, {@code acme/team}, {@code acme/team/app};
 * {@code R} a repository; digests are {@code sha256:...}; numbers are decimal integers):
 * <pre>
 * qp:{T}:used                 HASH  S -> committed bytes (distinct blobs present in S)
 * qp:{T}:reserved             HASH  S -> bytes held by live reservations
 * qp:{T}:limits               HASH  S|hard, S|soft, S|egress, S|egress_window (absent: -1, -1, -1, 3600), and
 *                                   S|repositories_hard, S|repositories_soft, S|manifests_hard, S|manifests_soft (absent: -1)
 * qp:{T}:counts               HASH  S|repositories (repositories under S holding anything), S|manifests (manifests they
 *                                   hold): committed, rebuilt from the ledger like used
 * qp:{T}:slots                HASH  R (a new repository) or R@M (a manifest new to R) -> JSON list of the reservation
 *                                   ids holding that slot; S|repositories, S|manifests -> slots held in flight under S
 *                                   (a slot counts once however many ids hold it): in flight, like reservations
 * qp:{T}:sizes                HASH  digest -> size, set by the first commit of the digest and never
 *                                   overwritten; deleted once no repository of the namespace holds the blob
 * qp:{T}:res                  HASH  reservation id (a request's or an upload session's) ->
 *                                   {"repo":R,"total":"n","amounts":{"S":"n",...}} and "dirty":"1" for a session
 *                                   the registry may hold unreserved bytes of (numbers as strings: Lua's cjson
 *                                   prints only 14 significant digits); or {"retired":"1"}, the tombstone of
 *                                   an id released whole, settled or committed, whose reserves grant nothing
 * qp:{T}:res_expiry           ZSET  reservation id -> expiry (tombstones' too), epoch ms of the Redis clock
 * qp:{T}:present:S            HASH  digest -> number of repositories under S holding the blob
 * qp:{T}:links:R              SET   digests repository R itself links (blobs and manifests): whether R holds a
 *                                   blob, which present:R cannot say when R is also a scope of other repositories
 * qp:{T}:manifests:R          SET   manifest digests committed to R
 * qp:{T}:refs:R:M             SET   digests manifest M of R references (layers, config, child manifests)
 * qp:{T}:refcount:R           HASH  digest -> number of manifests of R referencing it
 * qp:{T}:traffic:H            HASH  S|ingress, S|egress, S|pushes, S|pulls, user:U|ingress, ... for the
 *                                   hour H = epoch seconds / 3600; expires 8 days after its last write
 * qp:{T}:egress:S             HASH  window -> "seconds:index" of the window counted, bytes -> egress reserved
 *                                   and settled in it (reserve_egress, settle_egress); expires at that window's end
 * qp:namespaces               SET   top-level namespaces ever written (no hash tag: read across slots), and
 *                                   "=census:TOKEN" once it was made complete after a loss (see {@link #CENSUS})
 * qp:system                   HASH  hard_storage, write_ratio, read_only_forced
 * qp:ledger                   STRING the epoch of the ledger (Postgres) this Redis belongs to
 * qp:ledger-lease             STRING held by the one process feeding the streams to the ledger
 * qp:lost                     STRING present for a minute after this Redis was found empty (see {@link #LOST})
 * qp:{T}:commits              HASH  request id -> {"repo","digest","session","until"}: a closing PUT (or monolithic
 *                                   upload) sent to the registry and not yet charged; see intend_commit.lua
 * qp:{T}:freed                ZSET  "R digest" -> when a drop took the digest out of R's usage (Redis clock ms),
 *                                   kept an hour: a commit settled late from an intent is skipped when freed since
 * qp:{T}:epoch:3              STRING the ledger epoch T's state was last made from (absent: unknown); the 3 is the
 *                                   layout of that state (see {@link #STATE_LAYOUT})
 * qp:{T}:restoring            STRING held by the one process restoring T from the ledger
 * qp:{T}:recovering           STRING present for a second after T was restored (new grants wait, see common.lua)
 * qp:{T}:events               STREAM every committed change of T, in order, for the ledger
 * qp:{T}:sequence             STRING the number of T's last event (each carries its own, n; see common.lua)
 * </pre>
 *
 * <p>Repository names cannot contain {@code :} or {@code |} (OCI grammar), so the separators are unambiguous.
 * The egress counter is one key per scope holding its window, rather than one key per window, because
 * the window's length is a limit stored in Redis and its index depends on the Redis clock: neither is
 * known in Java before the call, so a per-window name could only be built inside Lua.
 */
public final class QuotaKeys {
  /** Not hash-tagged: it lists namespaces that live in many slots. */
  public static final String NAMESPACES = "qp:namespaces";
  public static final String SYSTEM = "qp:system";
  /** Which ledger this Redis's state belongs to; every proxy sharing the Redis must share that ledger. */
  public static final String LEDGER = "qp:ledger";
  /**
   * The member of {@link #NAMESPACES} that says the set is complete: written, with a fresh token, once
   * every namespace the ledger knows and every namespace Redis holds state for was listed. It lives in
   * the set, not beside it, so losing the set (deleted alone, or with everything) loses the census too.
   * No namespace can be named so: OCI names have no {@code =}.
   */
  public static final String CENSUS_PREFIX = "=census:";
  /**
   * Present for a minute after this Redis was found empty while the ledger knew namespaces (it lost its
   * data): namespaces restored meanwhile make new grants wait, as those the ledger knows always do.
   */
  public static final String LOST = "qp:lost";
  /**
   * The layout of a namespace's state in Redis, part of its marker's name ({@link #epoch}). A new layout
   * changes the name: the marker of state written in an older one is then not found, so each namespace is
   * restored from the ledger in the new layout on its first decision. 2: with links:R (a repository's own
   * blobs, apart from the counts of a scope of the same name); before, qp:{T}:epoch. 3: with counts (count
   * limits: repositories and manifests per scope, rebuilt from the ledger).
   */
  public static final int STATE_LAYOUT = 3;

  /** The members of {@link #NAMESPACES}: the namespaces, and the census token if the set is complete. */
  public record Namespaces(List<String> names, String census) {
    public boolean complete() {
      return census != null;
    }

    /** Reads the set. */
    public static Future<Namespaces> read(Redis redis) {
      return redis.send(Request.cmd(Command.SMEMBERS).arg(NAMESPACES)).map(Namespaces::of);
    }

    public static Namespaces of(Response members) {
      List<String> names = new ArrayList<>();
      String census = null;
      if (members != null) {
        for (Response member : members) {
          String value = member.toString();
          if (value.startsWith(CENSUS_PREFIX)) {
            census = value.substring(CENSUS_PREFIX.length());
          } else {
            names.add(value);
          }
        }
      }
      return new Namespaces(names, census);
    }
  }

  /** The namespace of a key of this layout ({@code qp:{T}:...}); null for keys outside any namespace. */
  public static String namespaceOfKey(String key) {
    int open = key.indexOf('{');
    int close = key.indexOf('}', open + 1);
    return key.startsWith("qp:{") && open == 3 && close > open ? key.substring(open + 1, close) : null;
  }

  private final String prefix;

  private QuotaKeys(String namespace) {
    this.prefix = "qp:{" + namespace + "}:";
  }

  /** The keys of the namespace holding this repository or scope. */
  public static QuotaKeys of(String repositoryOrScope) {
    return new QuotaKeys(Scopes.namespace(repositoryOrScope));
  }

  public String used() {
    return prefix + "used";
  }

  public String reserved() {
    return prefix + "reserved";
  }

  public String limits() {
    return prefix + "limits";
  }

  public String sizes() {
    return prefix + "sizes";
  }

  public String reservations() {
    return prefix + "res";
  }

  public String reservationExpiry() {
    return prefix + "res_expiry";
  }

  /** The namespace's committed counts: {@code S|repositories}, {@code S|manifests} (see common.lua, Counts). */
  public String counts() {
    return prefix + "counts";
  }

  /**
   * Count slots held by pushes in flight: {@code R} or {@code R@M} -> JSON list of reservation ids, and
   * {@code S|repositories}, {@code S|manifests} -> slots held under S (see common.lua, Counts).
   */
  public String slots() {
    return prefix + "slots";
  }

  /** Blobs and manifests freed in the last hour, by repository (see remove_blob in common.lua). */
  public String freed() {
    return prefix + "freed";
  }

  /** Commit intents: request id -> what it is about to commit at the registry (see intend_commit.lua). */
  public String commits() {
    return prefix + "commits";
  }

  /** A SCAN pattern for every key of a kind in the namespace: {@code kind} is present, links, manifests, refs or refcount. */
  public String every(String kind) {
    return prefix + kind + ":*";
  }

  /** Present while the namespace's state is the one the ledger knows (see common.lua, Known state). */
  public String epoch() {
    return prefix + "epoch:" + STATE_LAYOUT;
  }

  /** The marker of state written in the layout before this one (see {@link #STATE_LAYOUT}). */
  public String legacyEpoch() {
    return prefix + "epoch:" + (STATE_LAYOUT - 1);
  }

  /** The markers of state written in every earlier layout: a restore deletes them (see {@link #STATE_LAYOUT}). */
  public List<String> legacyEpochs() {
    List<String> markers = new ArrayList<>(List.of(prefix + "epoch"));
    for (int layout = 2; layout < STATE_LAYOUT; layout++) {
      markers.add(prefix + "epoch:" + layout);
    }
    return markers;
  }

  /**
   * Present for a moment after the namespace was restored from the ledger: the proxies re-create the
   * reservations in flight that Redis lost, and new grants wait (see common.lua, recovering).
   */
  public String recovering() {
    return prefix + "recovering";
  }

  /** Held by the one process restoring the namespace's state from the ledger. */
  public String restoring() {
    return prefix + "restoring";
  }

  /** The namespace's event stream: every committed change, in order, for the ledger. */
  public String events() {
    return prefix + "events";
  }

  /** The number of the namespace's last event: every event carries the next (see common.lua, Events). */
  public String sequence() {
    return prefix + "sequence";
  }

  /**
   * The keys every script receives first, in this order (common.lua names them): used, reserved,
   * limits, sizes, res, res_expiry, events, epoch, commits, sequence, counts, slots.
   */
  public List<String> common() {
    return List.of(used(), reserved(), limits(), sizes(), reservations(), reservationExpiry(), events(), epoch(), commits(),
        sequence(), counts(), slots());
  }

  public String present(String scope) {
    return prefix + "present:" + scope;
  }

  /** The digests the repository itself links (see common.lua, add_blob). */
  public String links(String repository) {
    return prefix + "links:" + repository;
  }

  public String manifests(String repository) {
    return prefix + "manifests:" + repository;
  }

  public String references(String repository, String manifestDigest) {
    return prefix + "refs:" + repository + ":" + manifestDigest;
  }

  public String referenceCounts(String repository) {
    return prefix + "refcount:" + repository;
  }

  public String traffic(long hour) {
    return prefix + "traffic:" + hour;
  }

  public String egress(String scope) {
    return prefix + "egress:" + scope;
  }

  /** {@link #present} of each scope, in the given order. */
  public List<String> presentKeys(List<String> scopes) {
    List<String> keys = new ArrayList<>(scopes.size());
    for (String scope : scopes) {
      keys.add(present(scope));
    }
    return keys;
  }

  /** {@link #egress} of each scope, in the given order. */
  public List<String> egressKeys(List<String> scopes) {
    List<String> keys = new ArrayList<>(scopes.size());
    for (String scope : scopes) {
      keys.add(egress(scope));
    }
    return keys;
  }
}
