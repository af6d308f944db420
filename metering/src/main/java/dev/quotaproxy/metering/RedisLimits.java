package dev.quotaproxy.metering;

import static dev.quotaproxy.metering.StoreClient.MAX_EXACT;

import dev.quotaproxy.config.Limits;
import dev.quotaproxy.config.SystemSettings;
import io.vertx.core.Future;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.util.List;
import java.util.Optional;

/**
 * The limits and system settings every decision reads, as Redis holds them. They are written from the
 * ledger (by {@code LimitsSync}, and by the admin API right after it records a change), each at the
 * revision of its ledger row, so an older copy landing late never undoes a newer one (put_limits.lua).
 *
 * <p>Of the system settings Redis keeps only what every decision reads: {@code hard_storage},
 * {@code write_ratio} and {@code read_only_forced} ({@code qp:system}). The rest (overcommit, retention)
 * is the ledger's: it is not written here, and reads back as {@link SystemSettings#DEFAULTS}.
 *
 * <p>Limits pass no {@link NamespaceGate}: put_limits.lua decides nothing, so it runs whether or not the
 * namespace's state is known, as it must, since a restore writes the namespace's limits before it marks
 * the namespace known. Writing limits still lists the namespace, as every write does.
 */
public final class RedisLimits {
  private final StoreClient client;
  /** This process's view of which scopes have an egress limit, told of every limit written here. */
  private final EgressLimits egressLimits;

  public RedisLimits(StoreClient client) {
    this(client, new EgressLimits());
  }

  public RedisLimits(StoreClient client, EgressLimits egressLimits) {
    this.client = client;
    this.egressLimits = egressLimits;
  }

  /**
   * Sets a scope's limits at a revision of the ledger's row (its update time in microseconds); when the
   * store holds a newer revision nothing changes. True when written. All eight values are stored (-1
   * included), so the hash shows what was set rather than relying on defaults.
   */
  public Future<Boolean> putLimits(String scope, Limits limits, long revision) {
    return client.guarded("put_limits", () -> {
      StoreClient.check(isLimit(limits.storageHard()) && isLimit(limits.storageSoft()) && isLimit(limits.egress())
          && isLimit(limits.repositoriesHard()) && isLimit(limits.repositoriesSoft()) && isLimit(limits.manifestsHard())
          && isLimit(limits.manifestsSoft()) && limits.egressWindowSeconds() >= 1,
          "limits must be -1 or 0 to 2^53, the egress window at least a second: " + limits);
      ScopePath path = new ScopePath(client, scope, List.of(scope));
      List<String> args = List.of(Long.toString(limits.storageHard()), Long.toString(limits.storageSoft()), Long.toString(limits.egress()),
          Long.toString(limits.egressWindowSeconds()), Long.toString(revision), Long.toString(limits.repositoriesHard()),
          Long.toString(limits.repositoriesSoft()), Long.toString(limits.manifestsHard()), Long.toString(limits.manifestsSoft()));
      long now = System.currentTimeMillis();
      Future<Void> listed = client.listedSince(path.namespace, now) ? Future.succeededFuture() : client.list(path.namespace, now);
      return listed.compose(v -> path.run(LuaScripts.PUT_LIMITS, path.presentKeys(), List.of(), args)).map(reply -> reply.toLong() == 1)
          .onSuccess(written -> {
            if (written) {
              egressLimits.put(scope, limits.egress(), revision);
            }
          });
    });
  }

  /** Stores the system settings at a revision, as {@link #putLimits} does limits. */
  public Future<Boolean> putSystemSettings(SystemSettings settings, long revision) {
    if (!isLimit(settings.hardStorage()) || !(settings.writeRatio() >= 0 && settings.writeRatio() <= 1)) {
      return Future
          .failedFuture(new IllegalArgumentException("hard storage must be -1 or 0 to 2^53 and the write ratio 0 to 1: " + settings));
    }
    return client.guarded("put_system", () -> client.scripts.run(LuaScripts.PUT_SYSTEM, List.of(QuotaKeys.SYSTEM),
        ScopePath.withoutScopes(List.of(Long.toString(settings.hardStorage()), Double.toString(settings.writeRatio()),
            settings.readOnlyForced() ? "1" : "0", Long.toString(revision))))
        .map(reply -> reply.toLong() == 1));
  }

  /** The system settings as stored; empty when none are (never written, or Redis lost its data). */
  public Future<Optional<SystemSettings>> systemSettings() {
    return client.guarded("system_settings", () -> client.redis.send(
        Request.cmd(Command.HMGET).arg(QuotaKeys.SYSTEM).arg("hard_storage").arg("write_ratio").arg("read_only_forced")))
        .map(reply -> {
          Response hard = reply.get(0);
          Response ratio = reply.get(1);
          Response forced = reply.get(2);
          if (hard == null && ratio == null && forced == null) {
            return Optional.empty();
          }
          SystemSettings defaults = SystemSettings.DEFAULTS;
          return Optional.of(new SystemSettings(
              hard == null ? defaults.hardStorage() : hard.toLong(),
              ratio == null ? defaults.writeRatio() : Double.parseDouble(ratio.toString()),
              forced == null ? defaults.readOnlyForced() : forced.toLong() == 1,
              defaults.allowOvercommit(), defaults.retentionDays()));
        });
  }

  private static boolean isLimit(long value) {
    return value >= -1 && value < MAX_EXACT;
  }
}
