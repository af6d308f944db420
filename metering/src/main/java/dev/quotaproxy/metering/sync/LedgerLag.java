package dev.quotaproxy.metering.sync;

import dev.quotaproxy.ledger.StreamPosition;
import dev.quotaproxy.metering.QuotaKeys;
import io.vertx.core.Future;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * How far the ledger is behind Redis: the stream entries not yet applied to Postgres (delivered to the
 * {@link LedgerFeed} and not acknowledged, or not delivered yet), over every namespace, and the age of
 * the oldest of them. Entry ids carry the Redis time they were added at, so the age needs no extra field.
 * Read-only: it never moves the consumer group.
 */
public final class LedgerLag {
  /** Entries waiting, and how old the oldest one is (0 when none wait). */
  public record Lag(long entries, long oldestAgeMillis, long stalledNamespaces) {
    static final Lag NONE = new Lag(0, 0, 0);

    Lag(long entries, long oldestAgeMillis) {
      this(entries, oldestAgeMillis, oldestAgeMillis > STALLED_MILLIS ? 1 : 0);
    }

    Lag plus(Lag other) {
      return new Lag(entries + other.entries, Math.max(oldestAgeMillis, other.oldestAgeMillis),
          stalledNamespaces + other.stalledNamespaces);
    }
  }

  /**
   * A namespace whose oldest unread event is older than this is not being read: the feed moves events
   * within a second while Postgres is up, so this means Postgres has been down a minute, or the feed
   * does not see the namespace's stream.
   */
  public static final long STALLED_MILLIS = 60_000;

  private final Redis redis;
  private final LongSupplier clock;

  public LedgerLag(Redis redis) {
    this(redis, System::currentTimeMillis);
  }

  LedgerLag(Redis redis, LongSupplier clock) {
    this.redis = redis;
    this.clock = clock;
  }

  public Future<Lag> measure() {
    return QuotaKeys.Namespaces.read(redis).compose(listed -> {
      List<Future<Lag>> lags = new ArrayList<>();
      listed.names().forEach(namespace -> lags.add(of(QuotaKeys.of(namespace).events())));
      return Future.all(lags).map(all -> {
        Lag total = Lag.NONE;
        for (int i = 0; i < all.size(); i++) {
          total = total.plus(all.resultAt(i));
        }
        return total;
      });
    });
  }

  /** One namespace's stream. */
  private Future<Lag> of(String stream) {
    return redis.send(Request.cmd(Command.XLEN).arg(stream)).compose(length -> {
      long entries = length == null ? 0 : length.toLong();
      if (entries == 0) {
        return Future.succeededFuture(Lag.NONE);
      }
      return redis.send(Request.cmd(Command.XINFO).arg("GROUPS").arg(stream)).compose(groups -> {
        Response group = ledgerGroup(groups);
        if (group == null) {
          // The feed has never read this stream: every entry waits, the first is the oldest.
          return oldest(Request.cmd(Command.XRANGE).arg(stream).arg("-").arg("+").arg("COUNT").arg(1)).map(age -> new Lag(entries, age));
        }
        long pending = Long.parseLong(field(group, "pending"));
        // Redis 7 counts the entries not yet delivered; when it cannot tell (nil), the rest of the stream
        // is an upper bound: the feed trims what it has acknowledged.
        String lag = field(group, "lag");
        long undelivered = lag == null ? entries - pending : Long.parseLong(lag);
        if (pending > 0) {
          return redis.send(Request.cmd(Command.XPENDING).arg(stream).arg(LedgerFeed.GROUP))
              .map(summary -> new Lag(pending + undelivered, ageOf(summary.get(1))));
        }
        if (undelivered > 0) {
          String after = "(" + field(group, "last-delivered-id");
          return oldest(Request.cmd(Command.XRANGE).arg(stream).arg(after).arg("+").arg("COUNT").arg(1))
              .map(age -> new Lag(undelivered, age));
        }
        return Future.succeededFuture(Lag.NONE);
      });
    });
  }

  /** The feed's group among a stream's groups. */
  private static Response ledgerGroup(Response groups) {
    if (groups == null) {
      return null;
    }
    for (Response group : groups) {
      if (LedgerFeed.GROUP.equals(field(group, "name"))) {
        return group;
      }
    }
    return null;
  }

  /** A field of an XINFO reply: a map in RESP3, a flat array of names and values in RESP2; null when absent or nil. */
  private static String field(Response info, String name) {
    Response value = null;
    if (info.isMap()) {
      value = info.get(name);
    } else {
      for (int i = 0; i + 1 < info.size(); i += 2) {
        if (name.equals(info.get(i).toString())) {
          value = info.get(i + 1);
        }
      }
    }
    return value == null ? null : value.toString();
  }

  private Future<Long> oldest(Request range) {
    return redis.send(range).map(entries -> entries == null || entries.size() == 0 ? 0L : ageOf(entries.get(0).get(0)));
  }

  private long ageOf(Response streamId) {
    if (streamId == null) {
      return 0;
    }
    return Math.max(0, clock.getAsLong() - StreamPosition.parse(streamId.toString()).ms());
  }
}
