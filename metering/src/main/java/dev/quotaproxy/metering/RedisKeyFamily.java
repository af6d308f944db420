package dev.quotaproxy.metering;

import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Every kind of key the proxy keeps in Redis, with where its content comes back from when Redis loses
 * it and what notices the loss. Redis is a cache of the ledger (Postgres) plus what only Redis can know
 * (bytes in flight); nothing in it is trusted to survive. {@code RedisKeyFamilyTest} fails on a key in
 * Redis that no family here describes, and checks that every family rebuilt from the ledger comes back
 * whole after a {@code FLUSHALL}.
 *
 * <p>{@code T} is a top-level namespace, {@code S} a scope, {@code R} a repository, {@code M} a manifest
 * digest, {@code H} an hour. Layouts are in {@link QuotaKeys}.
 */
public enum RedisKeyFamily {
  USED("qp:{T}:used", Source.LEDGER, "RedisRestore, from the ledger's snapshot", Noticed.MARKER),
  SIZES("qp:{T}:sizes", Source.LEDGER, "RedisRestore, from the ledger's snapshot", Noticed.MARKER),
  PRESENT("qp:{T}:present:S", Source.LEDGER, "RedisRestore, from the ledger's snapshot", Noticed.MARKER),
  LINKS("qp:{T}:links:R", Source.LEDGER, "RedisRestore, from the ledger's snapshot", Noticed.MARKER),
  MANIFESTS("qp:{T}:manifests:R", Source.LEDGER, "RedisRestore, from the ledger's snapshot", Noticed.MARKER),
  REFERENCES("qp:{T}:refs:R:M", Source.LEDGER, "RedisRestore, from the ledger's snapshot", Noticed.MARKER),
  REFERENCE_COUNTS("qp:{T}:refcount:R", Source.LEDGER, "RedisRestore, from the ledger's snapshot", Noticed.MARKER),
  LIMITS("qp:{T}:limits", Source.LEDGER,
      "LimitsSync.syncNamespace as part of the namespace's restore, and every limits sync (10 s)",
      Noticed.MARKER),
  /** Bytes held by requests in flight and by open upload sessions. */
  RESERVED("qp:{T}:reserved", Source.PROXIES,
      "requests' reservations are re-created by the proxies that hold them (LiveReservations, "
          + "RequestLeases.keep), while a restored namespace makes new grants wait a second; an upload session's "
          + "bytes are asked from the registry when it closes (its Range), and reserved again then, against the limit",
      Noticed.KEEP),
  RESERVATIONS("qp:{T}:res", Source.PROXIES, "as reserved", Noticed.KEEP),
  RESERVATION_EXPIRY("qp:{T}:res_expiry", Source.PROXIES, "as reserved", Noticed.KEEP),
  COMMITS("qp:{T}:commits", Source.LEDGER,
      "intents of requests in flight (intend.lua), renewed by their proxies (keep.lua), journalled in the "
          + "ledger (intent_opened, intent_closed): RedisRestore writes the ledger's open intents back with a fresh "
          + "lease, so one whose proxy died lapses and is settled with the registry (RegistryIntents); one an older "
          + "snapshot brought back that the ledger does not hold open is marked unconfirmed by the restore and "
          + "dropped unless a live request renews it; an intent whose request ended unsettled is also settled from "
          + "its proxy's own copy (LiveReservations). Not journalled: an intent recorded while its namespace's state "
          + "was unknown",
      Noticed.MARKER),
  FREED("qp:{T}:freed", Source.LEDGER,
      "RedisRestore, from the ledger's frees of the last hour (recent_frees, V14), so that a commit settled late "
          + "does not charge again a blob its repository freed after the request ended",
      Noticed.MARKER),
  RECOVERING("qp:{T}:recovering", Source.RECOMPUTED, "a flag with a TTL, set by a restore", Noticed.NOT_NEEDED),
  EVENTS("qp:{T}:events", Source.PROXIES,
      "entries the ledger had not read yet are applied from the proxies' copies (EventOutbox); the stream "
          + "starts again after the ledger's position (LedgerRecovery)",
      Noticed.OUTBOX),
  SEQUENCE("qp:{T}:sequence", Source.LEDGER,
      "RedisRestore, from the ledger's highest applied number (or kept, if Redis holds a higher one not yet "
          + "applied)",
      Noticed.SEQUENCE),
  TRAFFIC("qp:{T}:traffic:H", Source.NOT_READ,
      "not rebuilt: hourly counters written for operators, never read back; the ledger keeps traffic from the "
          + "events",
      Noticed.NOT_NEEDED),
  EGRESS("qp:{T}:egress:S", Source.RECOMPUTED,
      "not rebuilt: the current egress window starts over (at most one window's limit more egress)",
      Noticed.NOT_NEEDED),
  MARKER("qp:{T}:epoch:3", Source.LEDGER,
      "set last by every restore: its absence is what makes a namespace unknown (the 3 is the state's layout: a "
          + "restore deletes the markers of older ones, qp:{T}:epoch and qp:{T}:epoch:2)",
      Noticed.MARKER),
  RESTORING("qp:{T}:restoring", Source.RECOMPUTED, "a lock with a TTL, taken again by the next restore", Noticed.NOT_NEEDED),
  NAMESPACES("qp:namespaces", Source.LEDGER,
      "the census: the ledger's namespaces and every namespace with a marker (a SCAN), listed with a new census "
          + "member; every state watch lists the ledger's again; each proxy lists a namespace it writes every 10 s",
      Noticed.CENSUS),
  SYSTEM("qp:system", Source.LEDGER, "ConfiguredQuotas writes the recorded settings again when a refresh finds none", Noticed.REFRESH),
  LEDGER_BINDING("qp:ledger", Source.LEDGER, "claimed again by LedgerBinding before any restore and any feeding", Noticed.NOT_NEEDED),
  LOST("qp:lost", Source.RECOMPUTED, "a flag with a TTL, set when this Redis is found empty", Noticed.NOT_NEEDED),
  LEDGER_LEASE("qp:ledger-lease", Source.RECOMPUTED, "a lease with a TTL, taken again by the next feed pass", Noticed.NOT_NEEDED),
  /** Committed counts per scope (count limits): repositories holding anything, manifests. */
  COUNTS("qp:{T}:counts", Source.LEDGER,
      "RedisRestore, from the ledger's snapshot (each repository's links and manifests)",
      Noticed.MARKER),
  /** Count slots of pushes in flight (new repositories and manifests not committed yet). */
  SLOTS("qp:{T}:slots", Source.PROXIES,
      "held again with the reservations the proxies re-create (keep.lua), those still for something new; pushes "
          + "decided after the loss take their own. Slots left whose holders' reservations are gone are dropped "
          + "before they could refuse a push (prune_slots)",
      Noticed.KEEP);

  /** Where a family's content comes back from. */
  public enum Source {
    /** Written again from Postgres. */
    LEDGER,
    /** Written again from what the proxies hold in memory. */
    PROXIES,
    /** Starts over on its own. */
    RECOMPUTED,
    /** Nothing reads it back. */
    NOT_READ
  }

  /** What notices that a family was lost. */
  public enum Noticed {
    /**
     * The namespace's marker goes with it (FLUSHALL, FLUSHDB, a restart, an older snapshot, a namespace's keys
     * deleted): every decision, the state watch (5 s) and the system sum then restore the namespace first.
     * Lost alone, with the marker kept, the periodic reconciliation of Redis against the ledger corrects it.
     */
    MARKER,
    /** Each proxy's renewal of its requests' reservations (every 250 ms), which finds them missing. */
    KEEP,
    /** The outbox check (every second) and the state watch's comparison of the stream with the ledger's position. */
    OUTBOX,
    /**
     * Lost with the rest of the namespace (the marker notices), or gone back with an older state: every script
     * that decides finds it below the number its proxy saw (SeenSequences), the state watch finds it below the
     * ledger's, and the ledger finds the next events numbered below what it applied.
     */
    SEQUENCE,
    /** The census member of the set goes with it: the next system sum takes the census again first. */
    CENSUS,
    /** The next refresh of system usage (quota.system.refresh). */
    REFRESH,
    /** Nothing needs to: the next use recreates it. */
    NOT_NEEDED
  }

  private final String layout;
  private final Source source;
  private final String rebuild;
  private final Noticed noticed;
  private final Pattern pattern;

  RedisKeyFamily(String layout, Source source, String rebuild, Noticed noticed) {
    this.layout = layout;
    this.source = source;
    this.rebuild = rebuild;
    this.noticed = noticed;
    this.pattern = Pattern.compile(Pattern.quote(layout)
        .replace("{T}", "\\E\\{[^}]+\\}\\Q")
        .replace(":S", "\\E:.+\\Q")
        .replace(":R:M", "\\E:.+:sha256:[0-9a-f]{64}\\Q")
        .replace(":R", "\\E:.+\\Q")
        .replace(":H", "\\E:[0-9]+\\Q"));
  }

  public String layout() {
    return layout;
  }

  public Source source() {
    return source;
  }

  public String rebuild() {
    return rebuild;
  }

  public Noticed noticed() {
    return noticed;
  }

  public boolean matches(String key) {
    return pattern.matcher(key).matches();
  }

  /** The families a key belongs to: exactly one for every key the proxy writes. */
  public static List<RedisKeyFamily> of(String key) {
    return java.util.Arrays.stream(values()).filter(family -> family.matches(key)).toList();
  }

  /** The one family of a key, if exactly one describes it. */
  public static Optional<RedisKeyFamily> only(String key) {
    List<RedisKeyFamily> families = of(key);
    return families.size() == 1 ? Optional.of(families.get(0)) : Optional.empty();
  }
}
