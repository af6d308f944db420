package dev.quotaproxy.proxy.ledger;

import dev.quotaproxy.ledger.Ledger;
import dev.quotaproxy.ledger.Ledger.StreamPosition;
import dev.quotaproxy.ledger.LedgerEvent;
import dev.quotaproxy.proxy.quota.EmittedEvents;
import dev.quotaproxy.proxy.quota.QuotaKeys;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
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

  private final Redis redis;
  private final Ledger ledger;
  private final int capacity;
  private final LongSupplier clock;
  private final Map<String, NavigableMap<StreamPosition, Map<String, String>>> held = new ConcurrentHashMap<>();
  private final AtomicInteger size = new AtomicInteger();
  private final AtomicLong notHeld = new AtomicLong();
  private final AtomicLong recovered = new AtomicLong();
  private boolean checking;

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
    if (held.computeIfAbsent(namespace, n -> new ConcurrentSkipListMap<>()).put(StreamPosition.parse(streamId), Map.copyOf(fields)) != null) {
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

  /** Checks every {@link #CHECK_MILLIS}, never two at once; lost events are applied and their namespaces restored. */
  public long keepChecking(Vertx vertx, LedgerRecovery recovery) {
    return vertx.setPeriodic(CHECK_MILLIS, id -> {
      if (checking) {
        return;
      }
      checking = true;
      check(recovery).onComplete(done -> {
        checking = false;
        if (done.failed()) {
          LOG.debug("event outbox not checked (retried): {}", done.cause().toString());
        }
      });
    });
  }

  /**
   * One pass: forgets held events the ledger has recorded; of those older than {@link #GRACE_MILLIS}
   * that it has not, the ones still in their stream wait for the feed, and the others, lost by Redis,
   * are applied to the ledger and their namespace restored from it.
   */
  public Future<Void> check(LedgerRecovery recovery) {
    return check(recovery, clock.getAsLong());
  }

  /** {@link #check(LedgerRecovery)} as if it were {@code nowMillis}. */
  public Future<Void> check(LedgerRecovery recovery, long nowMillis) {
    long before = nowMillis - GRACE_MILLIS;
    Map<String, List<StreamPosition>> due = new ConcurrentHashMap<>();
    List<String> ids = new ArrayList<>();
    held.forEach((namespace, events) -> events.headMap(new StreamPosition(before, Long.MAX_VALUE), true).keySet().forEach(position -> {
      due.computeIfAbsent(namespace, n -> new ArrayList<>()).add(position);
      ids.add(eventId(namespace, position));
    }));
    if (ids.isEmpty()) {
      return Future.succeededFuture();
    }
    // The stream first, then the ledger: an entry the feed applies and trims in between is then found recorded.
    return inStreams(due).compose(inStream -> ledger.recorded(ids).compose(recorded -> {
      Future<Void> all = Future.succeededFuture();
      for (Map.Entry<String, List<StreamPosition>> namespaceDue : due.entrySet()) {
        String namespace = namespaceDue.getKey();
        Map<StreamPosition, Map<String, String>> lost = new java.util.TreeMap<>();
        for (StreamPosition position : namespaceDue.getValue()) {
          if (recorded.contains(eventId(namespace, position))) {
            forget(namespace, position);
          } else if (!inStream.getOrDefault(namespace, Set.of()).contains(position)) {
            Map<String, String> fields = held.get(namespace).get(position);
            if (fields != null) {
              lost.put(position, fields);
            }
          }
        }
        if (!lost.isEmpty()) {
          all = all.compose(v -> applyLost(namespace, lost).compose(fresh -> {
            if (fresh == 0) {
              return Future.succeededFuture();
            }
            LOG.warn("namespace {}: {} events Redis lost before the ledger read them were applied from this proxy's copy; "
                + "restoring the namespace from the ledger", namespace, fresh);
            return recovery.restoreFromLedger(namespace);
          }));
        }
      }
      return all;
    }));
  }

  private Future<Integer> applyLost(String namespace, Map<StreamPosition, Map<String, String>> events) {
    List<LedgerEvent> parsed = new ArrayList<>();
    new java.util.TreeMap<>(events).forEach((position, fields) ->
        StreamEvents.parse(namespace, position.ms() + "-" + position.seq(), fields).ifPresent(parsed::add));
    return ledger.apply(parsed).onSuccess(fresh -> {
      recovered.addAndGet(fresh);
      events.keySet().forEach(position -> forget(namespace, position));
    });
  }

  /** Which of the due positions each namespace's stream still holds: one XRANGE per namespace, pipelined. */
  private Future<Map<String, Set<StreamPosition>>> inStreams(Map<String, List<StreamPosition>> due) {
    List<String> namespaces = new ArrayList<>(due.keySet());
    List<Request> ranges = new ArrayList<>();
    for (String namespace : namespaces) {
      List<StreamPosition> positions = due.get(namespace);
      StreamPosition first = positions.get(0);
      StreamPosition last = positions.get(positions.size() - 1);
      ranges.add(Request.cmd(Command.XRANGE).arg(QuotaKeys.of(namespace).events())
          .arg(first.ms() + "-" + first.seq()).arg(last.ms() + "-" + last.seq()));
    }
    return redis.batch(ranges).map(replies -> {
      Map<String, Set<StreamPosition>> present = new ConcurrentHashMap<>();
      for (int i = 0; i < namespaces.size(); i++) {
        Set<StreamPosition> ids = new HashSet<>();
        Response entries = replies.get(i);
        if (entries != null) {
          entries.forEach(entry -> ids.add(StreamPosition.parse(entry.get(0).toString())));
        }
        present.put(namespaces.get(i), ids);
      }
      return present;
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
