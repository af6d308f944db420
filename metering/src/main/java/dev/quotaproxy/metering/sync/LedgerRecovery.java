package dev.quotaproxy.metering.sync;

import dev.quotaproxy.ledger.Ledger;
import dev.quotaproxy.ledger.StreamPosition;
import dev.quotaproxy.metering.NamespaceRecovery;
import dev.quotaproxy.metering.QuotaKeys;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes a namespace's Redis state the ledger's again. The namespace's stream is first applied to the
 * ledger (whatever Redis still has of it), then the events this process holds of it that Redis lost
 * ({@link EventOutbox}), then the ledger's snapshot is written to Redis, the namespace's limits written
 * again, the namespace listed, and marked with the ledger's epoch; a namespace the ledger has never seen
 * gets its limits, is listed and marked. One
 * process restores a namespace at a time (a lock in Redis); the others wait for its marker. Until the
 * marker is back, every decision on the namespace is refused (fail closed); pulls are not affected.
 */
public final class LedgerRecovery implements NamespaceRecovery {
  private static final Logger LOG = LoggerFactory.getLogger(LedgerRecovery.class);
  private static final long LOCK_MILLIS = 60_000;
  private static final long WAIT_MILLIS = 10_000;
  private static final long POLL_MILLIS = 100;
  /** How long new grants wait after a restore: four rounds of RequestLeases.keep. */
  static final long RECOVERING_MILLIS = 1_000;

  private final Vertx vertx;
  private final Redis redis;
  private final Ledger ledger;
  private final RedisRestore restore;
  private final LedgerBinding binding;
  private final EventOutbox outbox;
  private final Function<String, Future<Void>> limits;
  private final String owner = UUID.randomUUID().toString();
  /** One recovery per namespace in this process, however many decisions ask for it at once. */
  private final Map<String, Future<Void>> running = new ConcurrentHashMap<>();
  /** Told of each namespace restored because Redis lost what the ledger holds (not of a reconciliation's refresh). */
  private volatile Consumer<String> losses = namespace -> {
  };

  /** For jobs that run beside the proxies: no events held, and limits left to the proxies' sync. */
  public LedgerRecovery(Vertx vertx, Redis redis, Ledger ledger) {
    this(vertx, redis, ledger, null, namespace -> Future.succeededFuture());
  }

  /**
   * @param outbox this process's copy of the events it appended (null: none)
   * @param limits writes the limits of every scope of a namespace to Redis, from where they are recorded
   */
  public LedgerRecovery(Vertx vertx, Redis redis, Ledger ledger, EventOutbox outbox, Function<String, Future<Void>> limits) {
    this.vertx = vertx;
    this.redis = redis;
    this.ledger = ledger;
    this.restore = new RedisRestore(redis);
    this.binding = new LedgerBinding(redis, ledger);
    this.outbox = outbox;
    this.limits = limits;
  }

  @Override
  public Future<List<String>> namespacesOutsideRedis() {
    return ledger.namespaces();
  }

  /**
   * Succeeds when Redis belongs to this process's ledger (claiming a Redis that belongs to none), fails
   * with {@link LedgerBinding.OtherLedgerException} when it belongs to another: then nothing may be restored.
   */
  public Future<Void> bindRedis() {
    return binding.claim();
  }

  /**
   * Has {@code follower} told of every namespace this process restores because Redis no longer held what
   * the ledger does (lost, older, another epoch): decisions some proxy made on that state before it was
   * found are in neither the ledger nor Redis, and only the registry can tell them (see ReconcileAfterLoss).
   */
  public void followLosses(Consumer<String> follower) {
    this.losses = follower;
  }

  /** Redis was found not to hold the namespace as the ledger does: forgets its state and restores it from the ledger now. */
  public Future<Void> restoreFromLedger(String namespace) {
    return redis.send(Request.cmd(Command.DEL).arg(QuotaKeys.of(namespace).epoch())).compose(v -> recoverOnce(namespace, true));
  }

  /**
   * The ledger was corrected (a reconciliation): writes its state of the namespace over Redis's. Not a loss,
   * so nobody following losses is told.
   */
  public Future<Void> refreshFromLedger(String namespace) {
    return redis.send(Request.cmd(Command.DEL).arg(QuotaKeys.of(namespace).epoch())).compose(v -> recoverOnce(namespace, false));
  }

  @Override
  public Future<Void> ensureKnown(String namespace) {
    return recoverOnce(namespace, true);
  }

  private Future<Void> recoverOnce(String namespace, boolean afterLoss) {
    Promise<Void> mine = Promise.promise();
    Future<Void> already = running.putIfAbsent(namespace, mine.future());
    if (already != null) {
      return already;
    }
    recover(namespace, afterLoss).onComplete(done -> {
      running.remove(namespace);
      mine.handle(done);
    });
    return mine.future();
  }

  private Future<Void> recover(String namespace, boolean afterLoss) {
    QuotaKeys keys = QuotaKeys.of(namespace);
    return redis.send(Request.cmd(Command.SET).arg(keys.restoring()).arg(owner).arg("NX").arg("PX").arg(LOCK_MILLIS))
        .compose(locked -> locked == null
            ? awaitMarker(keys, System.currentTimeMillis() + WAIT_MILLIS)
            : restore(namespace, keys, afterLoss).eventually(() -> redis.send(Request.cmd(Command.DEL).arg(keys.restoring()))));
  }

  private Future<Void> restore(String namespace, QuotaKeys keys, boolean afterLoss) {
    return ledger.redisEpoch().compose(epoch -> binding.claim().compose(bound -> drainStream(namespace, keys))
        .compose(v -> outbox == null ? Future.succeededFuture(0) : outbox.applyHeld(namespace))
        .compose(lost -> {
          if (lost > 0) {
            LOG.warn("namespace {}: {} events Redis lost before the ledger read them were applied from this proxy's copy", namespace, lost);
          }
          return ledger.snapshot(namespace);
        })
        .compose(snapshot -> {
          Future<Void> written;
          if (snapshot.repositories().isEmpty() && snapshot.position().isEmpty()) {
            written = Future.succeededFuture(); // new to the ledger: nothing to restore
          } else {
            LOG.warn("namespace {}: Redis state is not the ledger's; restoring {} repositories from Postgres",
                namespace, snapshot.repositories().size());
            if (afterLoss) {
              losses.accept(namespace);
            }
            written = restore.write(snapshot)
                .compose(v -> keepStreamAhead(keys, snapshot.position().orElse(null)))
                .compose(v -> keepSequenceAhead(keys, snapshot.sequence()))
                .compose(v -> unconfirmIntents(keys))
                // After: an intent the ledger holds open is written fresh, over an unconfirmed copy of it.
                .compose(v -> restore.writeIntents(namespace, snapshot.intents().values()))
                .<Void>mapEmpty();
          }
          // Reservations in flight may have been lost with the rest (a namespace the ledger knows, or any
          // namespace of a Redis that lost its data a moment ago): new grants wait while the proxies
          // re-create theirs (RequestLeases.keep, every 250 ms). A namespace new to an intact Redis has none.
          boolean known = !(snapshot.repositories().isEmpty() && snapshot.position().isEmpty());
          return written
              .compose(v -> known
                  ? Future.succeededFuture(true)
                  : redis.send(Request.cmd(Command.EXISTS).arg(QuotaKeys.LOST)).map(lost -> lost != null && lost.toLong() == 1))
              .compose(lost -> lost
                  ? redis.send(Request.cmd(Command.SET).arg(keys.recovering()).arg(owner).arg("PX").arg(RECOVERING_MILLIS)).<Void>mapEmpty()
                  : Future.<Void>succeededFuture());
        })
        .compose(v -> limits.apply(namespace))
        .compose(v -> redis.send(Request.cmd(Command.SADD).arg(QuotaKeys.NAMESPACES).arg(namespace)))
        .compose(v -> redis.send(Request.cmd(Command.SET).arg(keys.epoch()).arg(epoch)))
        .<Void>mapEmpty()
        .onSuccess(v -> LOG.info("namespace {}: quota state known (epoch {})", namespace, epoch)));
  }

  /** Applies to the ledger whatever the namespace's stream still holds, so the snapshot includes it. */
  Future<Void> drainStream(String namespace, QuotaKeys keys) {
    return redis.send(Request.cmd(Command.XRANGE).arg(keys.events()).arg("-").arg("+")).compose(entries -> {
      StreamEvents.Batch batch = new StreamEvents.Batch();
      if (entries != null) {
        for (Response entry : entries) {
          Map<String, String> fields = new HashMap<>();
          Response values = entry.get(1);
          for (int i = 0; values != null && i + 1 < values.size(); i += 2) {
            fields.put(values.get(i).toString(), values.get(i + 1).toString());
          }
          batch.add(namespace, entry.get(0).toString(), fields);
        }
      }
      // Numbered, so that entries a Redis with older state appended are recounted rather than trusted.
      return ledger.apply(batch.events(), batch.sequences()).mapEmpty();
    });
  }

  /**
   * A stream recreated after Redis lost its data starts over at 0-0, which would look older than what
   * the ledger applied: its last id is set to the ledger's position, so it reads as current.
   */
  private Future<Void> keepStreamAhead(QuotaKeys keys, StreamPosition position) {
    if (position == null) {
      return Future.succeededFuture();
    }
    return redis.send(Request.cmd(Command.XGROUP).arg("CREATE").arg(keys.events()).arg(LedgerFeed.GROUP).arg("$").arg("MKSTREAM"))
        .<Void>mapEmpty()
        .recover(e -> Future.succeededFuture())
        .compose(v -> redis.send(Request.cmd(Command.XSETID).arg(keys.events()).arg(position.ms() + "-" + position.seq())))
        .<Void>mapEmpty()
        // Newer entries already (events written since): the stream is ahead as it is.
        .recover(e -> Future.succeededFuture());
  }

  /**
   * The namespace's next events must number after what the ledger applied; a higher number Redis holds
   * (events appended and not applied yet) is kept. One script, so no event is numbered in between.
   */
  private Future<Void> keepSequenceAhead(QuotaKeys keys, long applied) {
    return redis.send(Request.cmd(Command.EVAL).arg(SEQUENCE_AT_LEAST).arg(1).arg(keys.sequence()).arg(applied)).mapEmpty();
  }

  /**
   * The intents Redis holds now may have come back with an older snapshot after their requests finished
   * (their outcomes are in the ledger): settled again, a blob freed since would be charged again, since the
   * registry keeps a layer's link after the manifests referencing it are deleted. Each is marked unconfirmed:
   * the proxy whose request is still going renews it (keep.lua) and clears the mark; one never renewed is
   * dropped when it lapses (lapsed_intents.lua) instead of settled. The intents the ledger holds open are then
   * written over them, fresh ({@link RedisRestore#writeIntents}): their requests had not ended when the ledger
   * last heard of them, so one whose proxy died is settled with the registry, not dropped.
   */
  private Future<Void> unconfirmIntents(QuotaKeys keys) {
    return redis.send(Request.cmd(Command.EVAL).arg(UNCONFIRM_INTENTS).arg(1).arg(keys.commits())).mapEmpty();
  }

  private static final String UNCONFIRM_INTENTS = """
      local all = redis.call('HGETALL', KEYS[1])
      for i = 1, #all, 2 do
        local intent = cjson.decode(all[i + 1])
        intent.unconfirmed = '1'
        redis.call('HSET', KEYS[1], all[i], cjson.encode(intent))
      end
      return #all / 2""";

  private static final String SEQUENCE_AT_LEAST = """
      if tonumber(redis.call('GET', KEYS[1]) or '0') < tonumber(ARGV[1]) then
        redis.call('SET', KEYS[1], ARGV[1])
      end
      return 0""";

  /** Another process restores the namespace: wait for the marker it sets. */
  private Future<Void> awaitMarker(QuotaKeys keys, long deadline) {
    return redis.send(Request.cmd(Command.EXISTS).arg(keys.epoch())).compose(exists -> {
      if (exists.toLong() == 1) {
        return Future.succeededFuture();
      }
      if (System.currentTimeMillis() > deadline) {
        return Future.failedFuture(new IllegalStateException("another proxy is still restoring " + keys.epoch()));
      }
      Promise<Void> later = Promise.promise();
      vertx.setTimer(POLL_MILLIS, id -> awaitMarker(keys, deadline).onComplete(later));
      return later.future();
    });
  }
}
