package dev.quotaproxy.metering;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What stands between a store call and a namespace whose state Redis does not know (it lost it, or the
 * namespace is new): a write lists the namespace first; a script that finds the state unknown has it
 * made known by the {@link NamespaceRecovery} and runs once more; one that finds it restored a moment
 * ago asks again a little later. Also takes the census of {@link QuotaKeys#NAMESPACES} after a loss.
 *
 * <p>The recovery is given at construction. The proxy's (a {@link dev.quotaproxy.metering.sync.LedgerRecovery})
 * writes a namespace's limits through {@link RedisLimits}, which passes no gate, so the recovery can be
 * built before the gate that uses it.
 */
public final class NamespaceGate {
  private static final Logger LOG = LoggerFactory.getLogger(NamespaceGate.class);
  /** How often new grants on a namespace restored a moment ago ask again, and for how long at most. */
  private static final long RECOVERING_RETRY_MILLIS = 100;
  private static final int RECOVERING_RETRIES = 15;

  final StoreClient client;
  private final NamespaceRecovery recovery;

  /** Without a ledger there is nothing to restore from: a namespace whose marker is missing is marked as new. */
  public NamespaceGate(StoreClient client) {
    this.client = client;
    this.recovery = this::markNew;
  }

  /** A namespace whose marker is missing is made known by {@code recovery} (restored from the ledger when it knows it). */
  public NamespaceGate(StoreClient client, NamespaceRecovery recovery) {
    this.client = client;
    this.recovery = recovery;
  }

  /**
   * Runs a write after making sure the namespace is listed in {@link QuotaKeys#NAMESPACES}, which system
   * usage and the ledger feed read. The list lives outside the namespace's hash slot, so it cannot be
   * updated by the script itself; listing first means usage is never written to an unlisted namespace.
   * The recovery lists a namespace again whenever Redis lost its state.
   */
  <T> Future<T> write(String namespace, Supplier<Future<T>> operation) {
    long now = System.currentTimeMillis();
    if (client.listedSince(namespace, now)) {
      return whenKnown(namespace, operation);
    }
    return client.list(namespace, now).compose(listed -> whenKnown(namespace, operation));
  }

  /**
   * Runs the operation; if its script found the namespace's state unknown, recovers it and runs it once
   * more; while the namespace is recovering (restored a moment ago), asks again every 100 ms.
   */
  private <T> Future<T> whenKnown(String namespace, Supplier<Future<T>> operation) {
    return afterRecovering(namespace, operation, RECOVERING_RETRIES).recover(failure -> failure instanceof NamespaceStateUnknownException
        ? recovery.ensureKnown(namespace)
            .onSuccess(known -> client.seen.forget(namespace))
            .compose(known -> afterRecovering(namespace, operation, RECOVERING_RETRIES))
        : Future.failedFuture(failure));
  }

  private <T> Future<T> afterRecovering(String namespace, Supplier<Future<T>> operation, int retries) {
    return operation.get().recover(failure -> {
      if (!(failure instanceof NamespaceRecoveringException) || retries == 0 || client.vertx == null) {
        return Future.failedFuture(failure);
      }
      Promise<T> later = Promise.promise();
      client.vertx.setTimer(RECOVERING_RETRY_MILLIS, id -> afterRecovering(namespace, operation, retries - 1).onComplete(later));
      return later.future();
    });
  }

  /** Has the recovery make the namespace's state known (system usage found it unknown). */
  Future<Void> ensureKnown(String namespace) {
    return recovery.ensureKnown(namespace);
  }

  /** Marks a namespace's state as known, with the ledger's epoch (or {@code new} without a ledger). */
  public Future<Void> markKnown(String namespace, String epoch) {
    return client.guarded("mark_known",
        () -> client.redis.send(Request.cmd(Command.SET).arg(QuotaKeys.of(namespace).epoch()).arg(epoch)).mapEmpty());
  }

  /** Forgets that a namespace's state is known: the next decision on it restores it first. */
  public Future<Void> forget(String namespace) {
    return client.guarded("forget", () -> client.redis.send(Request.cmd(Command.DEL).arg(QuotaKeys.of(namespace).epoch())).mapEmpty());
  }

  /** Without a ledger there is nothing to restore from: the namespace is listed and marked as new. */
  private Future<Void> markNew(String namespace) {
    return client.guarded("mark_known", () -> client.redis.send(Request.cmd(Command.SADD).arg(QuotaKeys.NAMESPACES).arg(namespace)))
        .compose(listed -> markKnown(namespace, "new"));
  }

  /**
   * Makes {@link QuotaKeys#NAMESPACES} complete: adds every namespace the recovery knows outside Redis
   * and every namespace Redis holds a state marker for (a scan, done only after a loss), then the census.
   */
  Future<Void> takeCensus() {
    LOG.warn("the list of namespaces in Redis is not complete (was its data lost?): listing every namespace again");
    return recovery.namespacesOutsideRedis().compose(known -> {
      Set<String> all = new TreeSet<>(known);
      return scanMarkers(all).compose(v -> {
        Request add = Request.cmd(Command.SADD).arg(QuotaKeys.NAMESPACES);
        all.forEach(add::arg);
        add.arg(QuotaKeys.CENSUS_PREFIX + UUID.randomUUID());
        return client.redis.send(add).<Void>mapEmpty();
      });
    });
  }

  /** Every namespace with a state marker, on every node. */
  private Future<Void> scanMarkers(Set<String> found) {
    return RedisNodes.scan(client.redis, QuotaKeys.of("*").epoch()).map(keys -> {
      keys.forEach(key -> {
        String namespace = QuotaKeys.namespaceOfKey(key);
        if (namespace != null) {
          found.add(namespace);
        }
      });
      return null;
    });
  }
}
