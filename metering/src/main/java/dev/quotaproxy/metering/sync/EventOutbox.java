package dev.quotaproxy.metering.sync;

import dev.quotaproxy.ledger.Applied;
import dev.quotaproxy.ledger.Ledger;
import dev.quotaproxy.ledger.StreamPosition;
import dev.quotaproxy.metering.EmittedEvents;
import dev.quotaproxy.metering.QuotaKeys;
import dev.quotaproxy.metering.RedisNodes;
import dev.quotaproxy.metering.schedule.Periodic;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This process's copy of the events its scripts appended to the namespaces' streams, held until the
 * ledger has recorded them. Redis may lose a stream before the feed reads it ({@code FLUSHALL}, a
 * restart without persistence, or from an older snapshot); the events are then not lost with it: a
 * held event the ledger has not recorded and the stream no longer holds is applied to the ledger from
 * here, and its namespace restored from the ledger so Redis has it too.
 *
 * <p>Bounded: past {@link #capacity} held events (Postgres down for long under load) new ones are not
 * held, and counted in {@link #notHeld()}; they still reach the ledger through the stream, unless Redis
 * loses that as well.
 */
public final class EventOutbox implements EmittedEvents {
  private static final Logger LOG = LoggerFactory.getLogger(EventOutbox.class);
  public static final int DEFAULT_CAPACITY = 100_000;
  /** Events younger than this are left to the feed, which applies them in well under a second. */
  static final long GRACE_MILLIS = 2_000;
  public static final long CHECK_MILLIS = 1_000;
  /** Held events looked at per check: a backlog (Postgres was down) is worked through a few thousand a second. */
  static final int PER_CHECK = 5_000;

  private final Redis redis;
  private final Ledger ledger;
  private final int capacity;
  private final LongSupplier clock;
  private final Map<String, NavigableMap<StreamPosition, Map<String, String>>> held = new ConcurrentHashMap<>();
  private final AtomicInteger size = new AtomicInteger();
  private final AtomicLong notHeld = new AtomicLong();
  private final AtomicLong recovered = new AtomicLong();

  public EventOutbox(Redis redis, Ledger ledger) {
    this(redis, ledger, DEFAULT_CAPACITY, System::currentTimeMillis);
  }

  EventOutbox(Redis redis, Ledger ledger, int capacity, LongSupplier clock) {
    this.redis = redis;
    this.ledger = ledger;
    this.capacity = capacity;
    this.clock = clock;
  }

  @Override
  public void emitted(String namespace, String streamId, Map<String, String> fields) {
    if (size.incrementAndGet() > capacity) {
      size.decrementAndGet();
      if (notHeld.getAndIncrement() == 0) {
        LOG.warn("event outbox full ({} events the ledger has not recorded yet): further events rely on Redis alone", capacity);
      }
      return;
    }
    if (held.computeIfAbsent(namespace, n -> new ConcurrentSkipListMap<>()).put(StreamPosition.parse(streamId),
        Map.copyOf(fields)) != null) {
      size.decrementAndGet();
    }
  }

  /** Publishes what the outbox holds, and what it could not hold or had to recover, as gauges and counters. */
  public EventOutbox measuredIn(io.micrometer.core.instrument.MeterRegistry registry) {
    io.micrometer.core.instrument.Gauge.builder("quota_proxy.event.outbox.events", size, AtomicInteger::get)
        .description("Events this proxy holds until the ledger has recorded them").register(registry);
    io.micrometer.core.instrument.FunctionCounter.builder("quota_proxy.event.outbox.not.held", notHeld, AtomicLong::get)
        .description("Events not held because the outbox was full: they rely on Redis alone").register(registry);
    io.micrometer.core.instrument.FunctionCounter.builder("quota_proxy.event.outbox.recovered", recovered, AtomicLong::get)
        .description("Events Redis lost before the ledger read them, applied to the ledger from this proxy's copy").register(registry);
    return this;
  }

  /** Events held now. */
  public int size() {
    return size.get();
  }

  /** Events not held because the outbox was full. */
  public long notHeld() {
    return notHeld.get();
  }

  /** Events Redis lost that reached the ledger from here. */
  public long recovered() {
    return recovered.get();
  }

  /**
   * Applies to the ledger every event held for the namespace (the ledger ignores those it has), then
   * forgets them: for a restore, after the stream itself was applied, so what Redis lost is in the
   * snapshot the restore writes back. How many were new to the ledger.
   */
  Future<Integer> applyHeld(String namespace) {
    NavigableMap<StreamPosition, Map<String, String>> events = held.get(namespace);
    if (events == null || events.isEmpty()) {
      return Future.succeededFuture(0);
    }
    Map<StreamPosition, Map<String, String>> taken = Map.copyOf(events);
    return applyLost(namespace, taken);
  }

  /**
   * Checks every {@link #CHECK_MILLIS}, never two at once; lost events are applied and their namespaces restored
   * by {@code restore} (the recovery's restore from the ledger).
   */
  public long keepChecking(Vertx vertx, Function<String, Future<Void>> restore) {
    return Periodic.every(vertx, CHECK_MILLIS, () -> check(restore), done -> {
      if (done.failed()) {
        LOG.debug("event outbox not checked (retried): {}", done.cause().toString());
      }
    });
  }

  /** One pass of the check, now. */
  public Future<Void> check(Function<String, Future<Void>> restore) {
    return check(restore, clock.getAsLong());
  }

  /**
   * One pass over at most {@link #PER_CHECK} of the oldest held events past {@link #GRACE_MILLIS}: those
   * the ledger has recorded are forgotten; of the others, those still in their stream wait for the feed,
   * and those Redis lost are applied to the ledger and their namespace restored from it. The ledger is
   * asked first: an event the feed applies and trims in between then looks lost and is applied again,
   * which the ledger ignores (it keys events by id), so nothing is restored for it.
   */
  public Future<Void> check(Function<String, Future<Void>> restore, long nowMillis) {
    StreamPosition before = new StreamPosition(nowMillis - GRACE_MILLIS, Long.MAX_VALUE);
    List<Map.Entry<String, StreamPosition>> due = new ArrayList<>();
    held.forEach((namespace, events) -> {
      for (StreamPosition position : events.headMap(before, true).keySet()) {
        if (due.size() >= PER_CHECK) {
          return;
        }
        due.add(Map.entry(namespace, position));
      }
    });
    if (due.isEmpty()) {
      return Future.succeededFuture();
    }
    return ledger.recorded(due.stream().map(event -> eventId(event.getKey(), event.getValue())).toList()).compose(recorded -> {
      List<Map.Entry<String, StreamPosition>> unrecorded = new ArrayList<>();
      for (Map.Entry<String, StreamPosition> event : due) {
        if (recorded.contains(eventId(event.getKey(), event.getValue()))) {
          forget(event.getKey(), event.getValue());
        } else {
          unrecorded.add(event);
        }
      }
      return unrecorded.isEmpty() ? Future.succeededFuture() : applyThoseRedisLost(unrecorded, restore);
    });
  }

  /** Of events the ledger has not recorded, those their stream no longer holds: one XRANGE of each, pipelined. */
  private Future<Void> applyThoseRedisLost(List<Map.Entry<String, StreamPosition>> unrecorded, Function<String, Future<Void>> restore) {
    // Each lookup reads one namespace's stream: pipelined as one on one Redis, by namespace on a Cluster.
    List<List<Request>> lookups = new ArrayList<>(unrecorded.size());
    for (Map.Entry<String, StreamPosition> event : unrecorded) {
      String id = event.getValue().ms() + "-" + event.getValue().seq();
      lookups.add(List.of(Request.cmd(Command.XRANGE).arg(QuotaKeys.of(event.getKey()).events()).arg(id).arg(id)));
    }
    return RedisNodes.pipelined(redis, lookups).compose(replies -> {
      Map<String, Map<StreamPosition, Map<String, String>>> lost = new java.util.TreeMap<>();
      for (int i = 0; i < unrecorded.size(); i++) {
        Response entries = replies.get(i).get(0);
        if (entries != null && entries.size() > 0) {
          continue; // still in its stream: the feed will apply it
        }
        String namespace = unrecorded.get(i).getKey();
        StreamPosition position = unrecorded.get(i).getValue();
        NavigableMap<StreamPosition, Map<String, String>> events = held.get(namespace);
        Map<String, String> fields = events == null ? null : events.get(position);
        if (fields != null) {
          lost.computeIfAbsent(namespace, n -> new java.util.TreeMap<>()).put(position, fields);
        }
      }
      Future<Void> all = Future.succeededFuture();
      for (Map.Entry<String, Map<StreamPosition, Map<String, String>>> namespaceLost : lost.entrySet()) {
        String namespace = namespaceLost.getKey();
        all = all.compose(v -> applyLost(namespace, namespaceLost.getValue()).compose(fresh -> {
          if (fresh == 0) {
            return Future.succeededFuture();
          }
          LOG.warn("namespace {}: {} events Redis lost before the ledger read them were applied from this proxy's copy; "
              + "restoring the namespace from the ledger", namespace, fresh);
          return restore.apply(namespace);
        }));
      }
      return all;
    });
  }

  private Future<Integer> applyLost(String namespace, Map<StreamPosition, Map<String, String>> events) {
    StreamEvents.Batch parsed = new StreamEvents.Batch();
    new java.util.TreeMap<>(events).forEach((position, fields) -> parsed.add(namespace, position.ms() + "-" + position.seq(), fields));
    return ledger.apply(parsed.events(), parsed.sequences()).map(Applied::count).onSuccess(fresh -> {
      recovered.addAndGet(fresh);
      events.keySet().forEach(position -> forget(namespace, position));
    });
  }

  private void forget(String namespace, StreamPosition position) {
    NavigableMap<StreamPosition, Map<String, String>> events = held.get(namespace);
    if (events != null && events.remove(position) != null) {
      size.decrementAndGet();
    }
  }

  private static String eventId(String namespace, StreamPosition position) {
    return namespace + "/" + position.ms() + "-" + position.seq();
  }
}
