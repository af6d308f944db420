package dev.quotaproxy.metering.sync;

import dev.quotaproxy.ledger.Ledger;
import dev.quotaproxy.ledger.StreamPosition;
import dev.quotaproxy.metering.QuotaKeys;
import dev.quotaproxy.metering.RedisNodes;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves the namespaces' event streams into the ledger: reads a batch through the {@code ledger}
 * consumer group, applies it in one Postgres transaction, and only then acknowledges it and trims
 * the stream up to what is acknowledged. Postgres down: nothing is acknowledged, the streams grow,
 * the feed retries and catches up. Killed between the commit and the acknowledgement: the batch is
 * read again and the ledger, keyed by event id, applies none of it twice.
 *
 * <p>One proxy process feeds at a time, holding a lease in Redis, so each namespace's events reach
 * the ledger in stream order; any process takes over when the lease lapses. All use one consumer
 * name, so what one read and did not acknowledge, the next reads first.
 */
public final class LedgerFeed {
  private static final Logger LOG = LoggerFactory.getLogger(LedgerFeed.class);
  static final String GROUP = "ledger";
  static final String CONSUMER = "feed";
  static final String LEASE = "qp:ledger-lease";
  /**
   * Short: while a dead process's lease lasts nobody feeds, and the events it appended and the ledger has
   * not read exist only in Redis (its copy died with it), so a Redis that loses its data meanwhile loses
   * them. Renewed at every pass (every 200 ms idle, 2 s while Postgres fails), so a live feeder keeps it.
   */
  private static final long LEASE_MILLIS = 3_000;
  private static final long IDLE_POLL_MILLIS = 200;
  private static final long RETRY_MILLIS = 2_000;
  /**
   * How often the entries left pending are read again, failure or not: Redis back from an older snapshot brings
   * back the pending list it held then, entries this process read and acknowledged since, which no new read
   * delivers again (the fault suite: five left pending for good). Read again, the ledger knows them by id.
   */
  static final long PENDING_SWEEP_MILLIS = 10_000;
  private final long pendingSweepMillis;

  private final Vertx vertx;
  private final Redis redis;
  private final Ledger ledger;
  private final int batchSize;
  private final Function<String, Future<Void>> restoreOlder;
  private final String owner = UUID.randomUUID().toString();
  /** Streams whose consumer group this process has made sure of. */
  private final Set<String> grouped = ConcurrentHashMap.newKeySet();
  /** The newest entry applied per namespace, a second guard behind the ledger's event ids. */
  private final Map<String, StreamPosition> applied = new HashMap<>();
  /** Namespaces whose entries left pending before this process started (or before a failure) were read. */
  private final Set<String> pendingChecked = ConcurrentHashMap.newKeySet();
  private boolean stopped;
  private boolean failing;
  private long pendingSweptAt = System.currentTimeMillis();

  /**
   * @param restoreOlder restores a namespace's Redis state from the ledger (LedgerRecovery.restoreFromLedger),
   *                     for a namespace whose Redis is found to hold older state than the ledger
   */
  public LedgerFeed(Vertx vertx, Redis redis, Ledger ledger, int batchSize, Function<String, Future<Void>> restoreOlder) {
    this(vertx, redis, ledger, batchSize, restoreOlder, PENDING_SWEEP_MILLIS);
  }

  LedgerFeed(Vertx vertx, Redis redis, Ledger ledger, int batchSize, Function<String, Future<Void>> restoreOlder, long pendingSweepMillis) {
    this.vertx = vertx;
    this.redis = redis;
    this.ledger = ledger;
    this.batchSize = batchSize;
    this.restoreOlder = restoreOlder;
    this.pendingSweepMillis = pendingSweepMillis;
  }

  /** Starts feeding, as soon as and for as long as this process holds the lease. */
  public void start() {
    tick();
  }

  public void stop() {
    stopped = true;
  }

  private void tick() {
    if (stopped) {
      return;
    }
    feedIfLeading().onComplete(done -> {
      if (done.failed()) {
        if (!failing) {
          LOG.error("ledger feed stalled, retrying (events wait in Redis): {}", done.cause().toString());
        }
        failing = true;
        vertx.setTimer(RETRY_MILLIS, id -> tick());
        return;
      }
      if (failing) {
        LOG.info("ledger feed flowing again");
        failing = false;
      }
      if (done.result() > 0) {
        vertx.runOnContext(v -> tick());
      } else {
        vertx.setTimer(IDLE_POLL_MILLIS, id -> tick());
      }
    });
  }

  /** One step of the running feed: a batch ({@link #feedOnce()}) if this process holds or takes the lease, else 0. */
  public Future<Integer> feedIfLeading() {
    return holdLease().compose(leader -> leader ? feedOnce() : Future.succeededFuture(0));
  }

  /** Takes the lease if free, renews it if ours; true while this process is the feeding one. */
  private Future<Boolean> holdLease() {
    return redis.send(Request.cmd(Command.SET).arg(LEASE).arg(owner).arg("NX").arg("PX").arg(LEASE_MILLIS))
        .compose(set -> set != null
            ? boundToThisLedger()
            : redis.send(Request.cmd(Command.GET).arg(LEASE)).compose(holder -> {
              if (holder == null || !owner.equals(holder.toString())) {
                return Future.succeededFuture(false);
              }
              return redis.send(Request.cmd(Command.PEXPIRE).arg(LEASE).arg(LEASE_MILLIS)).map(true);
            }));
  }

  /**
   * A lease just taken is given back unless Redis belongs to this process's ledger: events of another
   * ledger's Redis must not be written here (see {@link LedgerBinding}).
   */
  private Future<Boolean> boundToThisLedger() {
    return new LedgerBinding(redis, ledger).claim().map(true)
        .recover(e -> redis.send(Request.cmd(Command.DEL).arg(LEASE)).transform(deleted -> Future.failedFuture(e)));
  }

  /**
   * One batch from every namespace's stream that has one; the number of entries handled. The reads of
   * all namespaces go to Redis in one pipeline, so an idle pass costs one round trip however many
   * namespaces there are (on a Redis Cluster, one pipeline per namespace: an XREADGROUP names one stream,
   * a pipeline one slot; see {@link RedisNodes#pipelined}).
   */
  public Future<Integer> feedOnce() {
    return feedPass().recover(e -> {
      if (!lostGroup(e)) {
        return Future.failedFuture(e);
      }
      // Redis lost a group this process had made (its data lost, and the namespace marked new with no stream
      // position to restore): one missing group fails every namespace's reads, so all are made sure of again.
      LOG.warn("a consumer group of the ledger's is gone from Redis ({}); making every group again", e.getMessage());
      grouped.clear();
      return feedPass();
    });
  }

  private static boolean lostGroup(Throwable e) {
    return e.getMessage() != null && e.getMessage().contains("NOGROUP");
  }

  private Future<Integer> feedPass() {
    long now = System.currentTimeMillis();
    if (now - pendingSweptAt >= pendingSweepMillis) {
      pendingSweptAt = now;
      pendingChecked.clear();
    }
    return QuotaKeys.Namespaces.read(redis).compose(listed -> {
      List<String> namespaces = listed.names();
      if (namespaces.isEmpty()) {
        return Future.succeededFuture(0);
      }
      Future<Void> grouped = Future.succeededFuture();
      List<List<Request>> reads = new ArrayList<>();
      for (String namespace : namespaces) {
        String stream = QuotaKeys.of(namespace).events();
        grouped = grouped.compose(v -> group(stream));
        // What was read before and not acknowledged (a crash, a failed commit) is read first, once.
        reads.add(List.of(readRequest(stream, pendingChecked.contains(namespace) ? ">" : "0")));
      }
      return grouped.compose(v -> RedisNodes.pipelined(redis, reads)).compose(replies -> {
        Future<Integer> total = Future.succeededFuture(0);
        for (int i = 0; i < namespaces.size(); i++) {
          String namespace = namespaces.get(i);
          String stream = QuotaKeys.of(namespace).events();
          List<Entry> read = entries(replies.get(i).get(0), stream);
          boolean readPending = !pendingChecked.contains(namespace);
          total = total.compose(sum -> {
            if (!read.isEmpty()) {
              return apply(namespace, stream, read).map(n -> sum + n);
            }
            if (!readPending) {
              return Future.succeededFuture(sum);
            }
            // Nothing was pending: from now on only new entries, starting with this pass.
            pendingChecked.add(namespace);
            return redis.send(readRequest(stream, ">"))
                .compose(reply -> {
                  List<Entry> fresh = entries(reply, stream);
                  return fresh.isEmpty() ? Future.succeededFuture(0) : apply(namespace, stream, fresh);
                })
                .map(n -> sum + n);
          });
        }
        return total;
      }).onFailure(e -> pendingChecked.clear());
    });
  }

  private Future<Void> group(String stream) {
    if (grouped.contains(stream)) {
      return Future.succeededFuture();
    }
    return redis.send(Request.cmd(Command.XGROUP).arg("CREATE").arg(stream).arg(GROUP).arg("0").arg("MKSTREAM"))
        .<Void>mapEmpty()
        .recover(e -> e.getMessage() != null && e.getMessage().startsWith("BUSYGROUP") ? Future.succeededFuture() : Future.failedFuture(e))
        .onSuccess(v -> grouped.add(stream));
  }

  private record Entry(String id, Map<String, String> fields) {}

  private Request readRequest(String stream, String from) {
    return Request.cmd(Command.XREADGROUP).arg("GROUP").arg(GROUP).arg(CONSUMER)
        .arg("COUNT").arg(batchSize).arg("STREAMS").arg(stream).arg(from);
  }

  private static List<Entry> entries(Response reply, String stream) {
    List<Entry> entries = new ArrayList<>();
    if (reply == null) {
      return entries;
    }
    // RESP3 answers a map of stream to entries; RESP2 an array of [stream, entries].
    Response perStream = reply.isMap() ? reply.get(stream) : reply.get(0).get(1);
    if (perStream == null) {
      return entries;
    }
    for (Response entry : perStream) {
      Response values = entry.get(1);
      Map<String, String> fields = new HashMap<>();
      if (values != null) {
        for (int i = 0; i + 1 < values.size(); i += 2) {
          fields.put(values.get(i).toString(), values.get(i + 1).toString());
        }
      }
      entries.add(new Entry(entry.get(0).toString(), fields));
    }
    return entries;
  }

  private Future<Integer> apply(String namespace, String stream, List<Entry> entries) {
    StreamPosition already = applied.get(namespace);
    StreamEvents.Batch batch = new StreamEvents.Batch();
    Set<String> unknownTypes = new HashSet<>();
    for (Entry entry : entries) {
      if (already != null && StreamPosition.parse(entry.id()).compareTo(already) <= 0) {
        continue;
      }
      if (!batch.add(namespace, entry.id(), entry.fields())) {
        unknownTypes.add(entry.fields().get("type"));
      }
    }
    if (!unknownTypes.isEmpty()) {
      LOG.warn("{}: skipped stream entries of unknown types {}", namespace, unknownTypes);
    }
    String last = entries.get(entries.size() - 1).id();
    return ledger.apply(batch.events(), batch.sequences())
        .compose(outcome -> acknowledge(stream, entries)
            .compose(v -> trim(stream))
            .compose(v -> {
              applied.put(namespace, StreamPosition.parse(last));
              return outcome.olderRedis().isEmpty() ? Future.succeededFuture() : restoreOlder(namespace);
            }))
        .map(v -> entries.size());
  }

  /**
   * Redis holds older state of the namespace than the ledger (it came back from an older snapshot, and
   * numbered new events below what the ledger applied): the ledger recounted its usage; Redis is restored.
   */
  private Future<Void> restoreOlder(String namespace) {
    LOG.warn("namespace {}: Redis appended events numbered below what the ledger applied: it holds older state; "
        + "restoring it from the ledger", namespace);
    return restoreOlder.apply(namespace);
  }

  private Future<Void> acknowledge(String stream, List<Entry> entries) {
    Request ack = Request.cmd(Command.XACK).arg(stream).arg(GROUP);
    entries.forEach(entry -> ack.arg(entry.id()));
    return redis.send(ack).mapEmpty();
  }

  /**
   * Drops what every reader has acknowledged: entries older than the oldest still pending, or all
   * delivered ones when none is pending. Never an entry the ledger has not committed.
   */
  private Future<Void> trim(String stream) {
    return redis.send(Request.cmd(Command.XPENDING).arg(stream).arg(GROUP)).compose(summary -> {
      long pending = summary.get(0).toLong();
      if (pending > 0) {
        return redis.send(Request.cmd(Command.XTRIM).arg(stream).arg("MINID").arg(summary.get(1).toString())).mapEmpty();
      }
      return redis.send(Request.cmd(Command.XINFO).arg("GROUPS").arg(stream)).compose(groups -> {
        for (Response group : groups) {
          Map<String, String> info = new HashMap<>();
          if (group.isMap()) {
            for (String key : group.getKeys()) {
              info.put(key, String.valueOf(group.get(key)));
            }
          } else {
            for (int i = 0; i + 1 < group.size(); i += 2) {
              info.put(group.get(i).toString(), String.valueOf(group.get(i + 1)));
            }
          }
          if (GROUP.equals(info.get("name")) && info.get("last-delivered-id") != null) {
            // MINID keeps the last delivered entry itself: one acknowledged entry is cheap to keep.
            return redis.send(Request.cmd(Command.XTRIM).arg(stream).arg("MINID").arg(info.get("last-delivered-id"))).mapEmpty();
          }
        }
        return Future.<Void>succeededFuture();
      });
    });
  }
}
