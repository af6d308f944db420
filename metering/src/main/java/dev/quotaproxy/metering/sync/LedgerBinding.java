package dev.quotaproxy.metering.sync;

import dev.quotaproxy.ledger.Ledger;
import dev.quotaproxy.metering.QuotaKeys;
import io.vertx.core.Future;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;

/**
 * Ties a Redis to one ledger. Every process restores Redis from its own Postgres when Redis does not
 * carry that ledger's epoch; two processes sharing a Redis but not a Postgres (each on an embedded
 * one, say) would take turns wiping each other's counters, and the limits would stop holding. So the
 * first process writes its ledger's epoch to {@link QuotaKeys#LEDGER}, and a process of another ledger
 * refuses to touch that Redis's state instead of restoring over it. A flushed Redis is claimed again.
 */
public final class LedgerBinding {
  /** How long after a Redis was found empty its restored namespaces make new grants wait (see QuotaKeys#LOST). */
  static final long LOST_MILLIS = 60_000;

  private final Redis redis;
  private final Ledger ledger;

  public LedgerBinding(Redis redis, Ledger ledger) {
    this.redis = redis;
    this.ledger = ledger;
  }

  /**
   * Succeeds when this Redis belongs to this process's ledger, claiming it if it belongs to none. A Redis
   * that belongs to none while the ledger knows namespaces has lost its data (flushed, restarted empty):
   * that is noted in {@link QuotaKeys#LOST} for a minute, so namespaces restored meanwhile make new grants
   * wait for the reservations in flight to be re-created.
   */
  public Future<Void> claim() {
    return ledger.redisEpoch().compose(epoch -> redis.send(Request.cmd(Command.SET).arg(QuotaKeys.LEDGER).arg(epoch).arg("NX"))
        .compose(set -> set == null ? Future.succeededFuture() : noteLoss())
        .compose(noted -> redis.send(Request.cmd(Command.GET).arg(QuotaKeys.LEDGER)))
        .compose(bound -> bound == null || epoch.equals(bound.toString())
            ? Future.succeededFuture()
            : Future.failedFuture(new OtherLedgerException(bound.toString(), epoch))));
  }

  private Future<Void> noteLoss() {
    return ledger.namespaces().compose(namespaces -> namespaces.isEmpty()
        ? Future.succeededFuture()
        : redis.send(Request.cmd(Command.SET).arg(QuotaKeys.LOST).arg(1).arg("PX").arg(LOST_MILLIS)).mapEmpty());
  }

  /** This Redis's state belongs to another ledger than the process's own. */
  public static final class OtherLedgerException extends IllegalStateException {
    OtherLedgerException(String redisLedger, String ownLedger) {
      super("this Redis belongs to ledger " + redisLedger + " but this proxy's Postgres is ledger " + ownLedger
          + ": every proxy sharing a Redis must use the same Postgres (give all of them the same --postgres.url);"
          + " if this Redis was taken over from another installation on purpose, delete its key " + QuotaKeys.LEDGER);
    }
  }
}
