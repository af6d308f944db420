package dev.quotaproxy.metering.sync;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reconciles with the registry a while after Redis was found to have lost writes.
 *
 * <p>A restore from the ledger brings back what the ledger holds, but not what was decided on the older
 * state before anyone noticed it: with several proxies, one that never saw the lost events' numbers may
 * free a blob that state did not charge (a delete whose commit was lost), or settle an intent on it; the
 * ledger never hears of it, and the restore charges the blob again though the registry deleted it. Only
 * the registry can tell, so {@code delay} after the first loss (for intents to settle and the other
 * proxies to restore too) a full reconciliation runs (Redis against the ledger, then the ledger against
 * the registry), which corrects the charge and records the drift. Losses found while one is waiting join
 * it; a run that fails (another proxy's run holds the lock, Postgres is down) is tried again after the
 * delay, up to {@link #ATTEMPTS} times.
 */
public final class ReconcileAfterLoss {
  private static final Logger LOG = LoggerFactory.getLogger(ReconcileAfterLoss.class);
  static final int ATTEMPTS = 3;

  private final Vertx vertx;
  private final long delayMillis;
  private final Supplier<Future<?>> reconcile;
  /** Namespaces restored since the last run started; guarded by this (restores complete on any context). */
  private final Set<String> waiting = new TreeSet<>();
  private boolean armed;

  /** @param reconcile one full reconciliation (Reconciliations: Redis against the ledger, then the registry) */
  public ReconcileAfterLoss(Vertx vertx, Duration delay, Supplier<Future<?>> reconcile) {
    this.vertx = vertx;
    this.delayMillis = Math.max(1, delay.toMillis());
    this.reconcile = reconcile;
  }

  /** A namespace was restored from the ledger because Redis had lost writes: a reconciliation follows. */
  public void lost(String namespace) {
    synchronized (this) {
      waiting.add(namespace);
      if (armed) {
        return;
      }
      armed = true;
    }
    LOG.warn("Redis lost writes of namespace {}: the ledger and Redis will be reconciled with the registry in {} ms",
        namespace, delayMillis);
    vertx.setTimer(delayMillis, id -> run(ATTEMPTS));
  }

  private void run(int attemptsLeft) {
    Set<String> namespaces;
    synchronized (this) {
      namespaces = new TreeSet<>(waiting);
      waiting.clear();
      armed = false;
    }
    LOG.warn("reconciling with the registry after Redis lost writes of {}", namespaces);
    reconcile.get().onComplete(done -> {
      if (done.succeeded()) {
        LOG.info("reconciliation after Redis lost writes of {} done", namespaces);
      } else if (attemptsLeft > 1) {
        LOG.warn("reconciliation after Redis lost writes of {} failed, again in {} ms: {}", namespaces, delayMillis,
            done.cause().toString());
        synchronized (this) {
          waiting.addAll(namespaces);
          if (armed) {
            return; // a loss found meanwhile has armed the next run, which takes these too
          }
          armed = true;
        }
        vertx.setTimer(delayMillis, id -> run(attemptsLeft - 1));
      } else {
        LOG.error("reconciliation after Redis lost writes of {} failed {} times; run POST /api/v1/reconciliations: {}",
            namespaces, ATTEMPTS, done.cause().toString());
      }
    });
  }
}
