package dev.quotaproxy.proxy.metrics;

import dev.quotaproxy.metering.sync.LedgerLag;
import dev.quotaproxy.config.SystemSettings;
import dev.quotaproxy.metering.ScopeUsage;
import dev.quotaproxy.metering.SystemUsage;
import dev.quotaproxy.proxy.quota.SystemGuard;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Gauges of state read periodically from Redis and Postgres ({@link StateSampler}), not from requests:
 * the scopes near their limits, the system scope, the ledger's lag and the last reconciliations' drift.
 * A gauge reads the last sampled value; before the first sample it reads NaN (unknown, not zero).
 *
 * <p>Scope gauges exist only for the scopes {@link NearLimitScopes} picks: a scope that leaves the set
 * has its gauges removed, so at most {@code max} scopes ever have series at once.
 */
public final class StateGauges {
  private final MeterRegistry registry;
  private final NearLimitScopes nearLimit;
  /** Scope gauges by scope; changed only by {@link #scopes}, under this object's lock. */
  private final Map<String, ScopeGauges> scopes = new HashMap<>();
  private final Map<String, Reconciliation> reconciliations = new ConcurrentHashMap<>();

  private volatile double nearLimitCount = Double.NaN;
  private volatile double systemUsed = Double.NaN;
  private volatile double systemReserved = Double.NaN;
  private volatile double systemHardLimit = Double.NaN;
  private volatile double systemReadOnly = Double.NaN;
  private volatile double ledgerPending = Double.NaN;
  private volatile double ledgerOldestAge = Double.NaN;
  private volatile double ledgerStalled = Double.NaN;
  private volatile double webhooksPending = Double.NaN;
  private volatile double webhooksFailed = Double.NaN;

  /** The last finished reconciliation of a kind: scopes with drift, bytes of drift, when it finished (epoch seconds). */
  public record Reconciliation(String kind, long driftScopes, long driftBytes, double finishedEpochSeconds) {}

  public StateGauges(MeterRegistry registry, NearLimitScopes nearLimit) {
    this.registry = registry;
    this.nearLimit = nearLimit;
    Gauge.builder("quota_proxy.scopes.near.limit", this, g -> g.nearLimitCount)
        .strongReference(true).description("Scopes whose usage is at or above the near-limit threshold of their hard limit (all of them, "
            + "not only those with gauges of their own)")
        .register(registry);
    Gauge.builder("quota_proxy.system.usage", this, g -> g.systemUsed).baseUnit("bytes")
        .strongReference(true).description("Committed storage of the whole registry").register(registry);
    Gauge.builder("quota_proxy.system.reserved", this, g -> g.systemReserved).baseUnit("bytes")
        .strongReference(true).description("Bytes reserved by uploads in flight, over the whole registry").register(registry);
    Gauge.builder("quota_proxy.system.hard.limit", this, g -> g.systemHardLimit).baseUnit("bytes")
        .strongReference(true).description("The registry's hard storage limit, -1 when unlimited").register(registry);
    Gauge.builder("quota_proxy.system.read.only", this, g -> g.systemReadOnly)
        .strongReference(true).description("1 while the registry refuses pushes (write ratio reached, or forced), else 0")
        .register(registry);
    for (String state : List.of("pending", "failed")) {
      Gauge.builder("quota_proxy.webhook.deliveries", this, g -> state.equals("pending") ? g.webhooksPending : g.webhooksFailed)
          .tag("state", state).strongReference(true)
          .description("Webhook deliveries of quota events waiting to be sent or retried (pending), or given up (failed)")
          .register(registry);
    }
    Gauge.builder("quota_proxy.ledger.pending.events", this, g -> g.ledgerPending)
        .strongReference(true).description("Redis stream entries not yet applied to the Postgres ledger").register(registry);
    Gauge.builder("quota_proxy.ledger.oldest.pending.age", this, g -> g.ledgerOldestAge).baseUnit("seconds")
        .strongReference(true).description("Age of the oldest stream entry not yet applied to the ledger, 0 when none waits")
        .register(registry);
    Gauge.builder("quota_proxy.ledger.stalled.namespaces", this, g -> g.ledgerStalled)
        .strongReference(true).description("Namespaces whose oldest event waiting for the ledger is over a minute old: not being read")
        .register(registry);
  }

  /** Every scope with a hard limit; gauges follow the ones near it. */
  public synchronized void scopes(List<ScopeUsage> all) {
    List<ScopeUsage> near = nearLimit.select(all);
    long above = all.stream().filter(nearLimit::near).count();
    nearLimitCount = above;
    Set<String> kept = new HashSet<>();
    for (ScopeUsage scope : near) {
      kept.add(scope.scope());
      scopes.computeIfAbsent(scope.scope(), ScopeGauges::new).update(scope);
    }
    scopes.entrySet().removeIf(entry -> {
      if (kept.contains(entry.getKey())) {
        return false;
      }
      entry.getValue().remove();
      return true;
    });
  }

  /** The scopes that have gauges now. */
  public synchronized Set<String> reportedScopes() {
    return Set.copyOf(scopes.keySet());
  }

  public void system(SystemUsage usage, SystemSettings settings) {
    systemUsed = usage.used();
    systemReserved = usage.reserved();
    systemHardLimit = settings.hardStorage();
    systemReadOnly = new SystemGuard.Snapshot(usage, settings).readOnly() ? 1 : 0;
  }

  /** Webhook deliveries not delivered, by state ({@code pending}, {@code failed}). */
  public void webhookDeliveries(Map<String, Long> unfinished) {
    webhooksPending = unfinished.getOrDefault("pending", 0L);
    webhooksFailed = unfinished.getOrDefault("failed", 0L);
  }

  public void ledgerLag(LedgerLag.Lag lag) {
    ledgerPending = lag.entries();
    ledgerOldestAge = lag.oldestAgeMillis() / 1000.0;
    ledgerStalled = lag.stalledNamespaces();
  }

  public void reconciliations(List<Reconciliation> latest) {
    for (Reconciliation reconciliation : latest) {
      if (reconciliations.put(reconciliation.kind(), reconciliation) == null) {
        register(reconciliation.kind());
      }
    }
  }

  /** Kinds are the ledger's few ({@code registry}, {@code redis}, {@code backfill}): one set of gauges each, kept. */
  private void register(String kind) {
    Gauge.builder("quota_proxy.drift.scopes", reconciliations, r -> r.get(kind).driftScopes()).tag("kind", kind)
        .strongReference(true).description("Scopes whose usage the last finished reconciliation of this kind found wrong (and corrected)")
        .register(registry);
    Gauge.builder("quota_proxy.drift", reconciliations, r -> r.get(kind).driftBytes()).tag("kind", kind).baseUnit("bytes")
        .strongReference(true).description("Sum over scopes of |found - expected| bytes in the last finished reconciliation of this kind")
        .register(registry);
    Gauge.builder("quota_proxy.reconciliation.finished.timestamp", reconciliations, r -> r.get(kind).finishedEpochSeconds())
        .tag("kind", kind).baseUnit("seconds")
        .strongReference(true).description("When the last reconciliation of this kind finished, seconds since the epoch")
        .register(registry);
  }

  /** The gauges of one scope near a limit: storage, and each count with its hard limit. */
  private final class ScopeGauges {
    private volatile double used;
    private volatile double limit;
    private volatile double ratio;
    private volatile double repositories;
    private volatile double repositoriesLimit;
    private volatile double manifests;
    private volatile double manifestsLimit;
    private final List<Meter> meters;

    ScopeGauges(String scope) {
      meters = List.of(
          Gauge.builder("quota_proxy.scope.usage", this, g -> g.used).tag("scope", scope).baseUnit("bytes")
              .strongReference(true).description("Committed storage of a scope near its hard limit").register(registry),
          Gauge.builder("quota_proxy.scope.limit", this, g -> g.limit).tag("scope", scope).baseUnit("bytes")
              .strongReference(true).description("Hard storage limit of a scope near it").register(registry),
          Gauge.builder("quota_proxy.scope.usage.ratio", this, g -> g.ratio).tag("scope", scope)
              .strongReference(true).description("Usage of a scope near its hard limit, as a share of it").register(registry),
          Gauge.builder("quota_proxy.scope.repositories", this, g -> g.repositories).tag("scope", scope)
              .strongReference(true).description("Repositories holding a blob or manifest in a scope near a limit").register(registry),
          Gauge.builder("quota_proxy.scope.repositories.limit", this, g -> g.repositoriesLimit).tag("scope", scope)
              .strongReference(true).description("Hard repository limit of a scope near a limit (-1: none)").register(registry),
          Gauge.builder("quota_proxy.scope.manifests", this, g -> g.manifests).tag("scope", scope)
              .strongReference(true).description("Manifests held in a scope near a limit").register(registry),
          Gauge.builder("quota_proxy.scope.manifests.limit", this, g -> g.manifestsLimit).tag("scope", scope)
              .strongReference(true).description("Hard manifest limit of a scope near a limit (-1: none)").register(registry));
    }

    void update(ScopeUsage scope) {
      used = scope.used();
      limit = scope.limits().storageHard();
      // A scope near a count limit only has no storage ratio.
      ratio = scope.limits().storageHard() >= 0 ? NearLimitScopes.ratio(scope) : Double.NaN;
      repositories = scope.counts().repositories();
      repositoriesLimit = scope.limits().repositoriesHard();
      manifests = scope.counts().manifests();
      manifestsLimit = scope.limits().manifestsHard();
    }

    void remove() {
      meters.forEach(registry::remove);
    }
  }
}
