package dev.quotaproxy.metering;

import io.vertx.core.Future;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * Runs the quota scripts ({@code *.lua} next to this class) on one Redis client and its pool.
 *
 * <p>Each script is sent as {@code common.lua} followed by the operation's file, and called by its SHA-1
 * with EVALSHA, so a call carries a 40-character name instead of the source. {@link #load()} sends every
 * script once with SCRIPT LOAD at startup (a script that does not compile fails the start, not the first
 * upload). Redis forgets scripts on restart, failover or SCRIPT FLUSH: a call answered NOSCRIPT is sent
 * again with EVAL, which runs it and caches it for the EVALSHAs that follow. That retry is safe because
 * NOSCRIPT means nothing ran.
 *
 * <p>The operation's file is run as a function, and the script returns its reply beside the stream
 * entries it appended ({@code with_events} in common.lua): {@link #run} hands the entries to the
 * {@link EmittedEvents} and returns the reply alone.
 */
final class LuaScripts {
  static final Script RESERVE_BYTES = Script.named("reserve_bytes");
  static final Script RESERVE_BLOBS = Script.named("reserve_blobs");
  static final Script RELEASE = Script.named("release");
  static final Script SETTLE = Script.named("settle");
  static final Script OPEN_SESSION = Script.named("open_session");
  static final Script SESSION = Script.named("session");
  static final Script COMMIT_BLOB = Script.named("commit_blob");
  static final Script COMMIT_MANIFEST = Script.named("commit_manifest");
  static final Script DROP_BLOB = Script.named("drop_blob");
  static final Script DROP_MANIFEST = Script.named("drop_manifest");
  static final Script RESERVE_EGRESS = Script.named("reserve_egress");
  static final Script SETTLE_EGRESS = Script.named("settle_egress");
  static final Script METER = Script.named("meter");
  static final Script SCOPE = Script.named("scope");
  static final Script RECORD_REJECTION = Script.named("record_rejection");
  static final Script PUT_LIMITS = Script.named("put_limits");
  static final Script PUT_SYSTEM = Script.named("put_system");
  static final Script SCOPE_USAGE = Script.named("scope_usage");
  static final Script KEEP = Script.named("keep");
  static final Script INTEND = Script.named("intend");
  static final Script LAPSED_INTENTS = Script.named("lapsed_intents");

  static final List<Script> ALL = List.of(RECORD_REJECTION, RESERVE_BYTES, RESERVE_BLOBS, RELEASE, SETTLE, OPEN_SESSION, SESSION,
      COMMIT_BLOB, COMMIT_MANIFEST, DROP_BLOB, DROP_MANIFEST, RESERVE_EGRESS, SETTLE_EGRESS, METER, SCOPE, PUT_LIMITS, PUT_SYSTEM,
      SCOPE_USAGE, KEEP, INTEND, LAPSED_INTENTS);

  /** Put around each operation's file: its {@code return}s then return from a function. */
  static final String OPERATION_BEGIN = "local function operation()\n";
  static final String OPERATION_END = "\nend\nreturn with_events(operation())\n";
  /** The position of the events key among every script's keys (QuotaKeys.common). */
  private static final int EVENTS_KEY = 6;

  private final Redis redis;
  private final EmittedEvents events;
  private final SeenSequences seen;

  LuaScripts(Redis redis, EmittedEvents events, SeenSequences seen) {
    this.seen = seen;
    this.redis = redis;
    this.events = events;
  }

  /**
   * SCRIPT LOADs every script (on a Redis Cluster, on every primary: each node has its own script cache);
   * fails if Redis rejects one or names it differently than we do.
   */
  Future<Void> load() {
    List<Future<Void>> loads = new ArrayList<>();
    for (Script script : ALL) {
      loads.add(RedisNodes.onEveryPrimary(redis, Request.cmd(Command.SCRIPT).arg("LOAD").arg(script.source())).compose(shas -> {
        for (Response sha : shas) {
          if (sha == null || !script.sha().equals(sha.toString())) {
            return Future
                .failedFuture(new IllegalStateException("Redis named script " + script.name() + " " + sha + ", expected " + script.sha()));
          }
        }
        return Future.succeededFuture();
      }));
    }
    return Future.all(loads).mapEmpty();
  }

  /** Runs the script by its SHA-1, falling back to its source when Redis does not know it; the operation's reply. */
  Future<Response> run(Script script, List<String> keys, List<String> args) {
    return redis.send(call(Command.EVALSHA, script.sha(), keys, args)).recover(failure -> {
      if (!isNoScript(failure)) {
        return Future.failedFuture(failure);
      }
      return redis.send(call(Command.EVAL, script.source(), keys, args));
    }).map(both -> {
      Response appended = both.get(1);
      if (appended != null && appended.size() > 0) {
        String namespace = QuotaKeys.namespaceOfKey(keys.get(EVENTS_KEY));
        for (Response entry : appended) {
          Map<String, String> fields = new HashMap<>();
          for (int i = 1; i + 1 < entry.size(); i += 2) {
            fields.put(entry.get(i).toString(), entry.get(i + 1).toString());
          }
          events.emitted(namespace, entry.get(0).toString(), fields);
          String number = fields.get("n");
          if (number != null) {
            seen.saw(namespace, Long.parseLong(number));
          }
        }
      }
      return both.get(0);
    });
  }

  private static Request call(Command command, String script, List<String> keys, List<String> args) {
    Request request = Request.cmd(command).arg(script).arg(keys.size());
    for (String key : keys) {
      request.arg(key);
    }
    for (String arg : args) {
      request.arg(arg);
    }
    return request;
  }

  private static boolean isNoScript(Throwable failure) {
    String message = failure.getMessage();
    return message != null && message.startsWith("NOSCRIPT");
  }

  /** One operation's full source (common.lua, then its file as a function) and the SHA-1 Redis knows it by. */
  record Script(String name, String source, String sha) {
    static Script named(String name) {
      String source = resource("common.lua") + "\n" + OPERATION_BEGIN + resource(name + ".lua") + OPERATION_END;
      return new Script(name, source, sha1(source));
    }

    /** The name alone: the source is kilobytes long. */
    @Override
    public String toString() {
      return name;
    }

    private static String resource(String file) {
      try (InputStream in = LuaScripts.class.getResourceAsStream(file)) {
        if (in == null) {
          throw new IllegalStateException("missing script resource " + file);
        }
        return new String(in.readAllBytes(), StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    private static String sha1(String source) {
      try {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(source.getBytes(StandardCharsets.UTF_8)));
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException("every JVM has SHA-1", e);
      }
    }
  }
}
