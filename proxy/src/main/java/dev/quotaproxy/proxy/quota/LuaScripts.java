package dev.quotaproxy.proxy.quota;

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
import java.util.HexFormat;
import java.util.List;

/**
 * Runs the quota scripts ({@code *.lua} next to this class) on one Redis client and its pool.
 *
 * <p>Each script is sent as {@code common.lua} followed by the operation's file, and called by its SHA-1
 * with EVALSHA, so a call carries a 40-character name instead of the source. {@link #load()} sends every
 * script once with SCRIPT LOAD at startup (a script that does not compile fails the start, not the first
 * upload). Redis forgets scripts on restart, failover or SCRIPT FLUSH: a call answered NOSCRIPT is sent
 * again with EVAL, which runs it and caches it for the EVALSHAs that follow. That retry is safe because
 * NOSCRIPT means nothing ran.
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

  static final List<Script> ALL = List.of(RECORD_REJECTION, RESERVE_BYTES, RESERVE_BLOBS, RELEASE, SETTLE, OPEN_SESSION, SESSION,
      COMMIT_BLOB, COMMIT_MANIFEST, DROP_BLOB, DROP_MANIFEST, RESERVE_EGRESS, SETTLE_EGRESS, METER, SCOPE, PUT_LIMITS, PUT_SYSTEM,
      SCOPE_USAGE);

  private final Redis redis;

  LuaScripts(Redis redis) {
    this.redis = redis;
  }

  /** SCRIPT LOADs every script; fails if Redis rejects one or names it differently than we do. */
  Future<Void> load() {
    List<Future<Response>> loads = new ArrayList<>();
    for (Script script : ALL) {
      loads.add(redis.send(Request.cmd(Command.SCRIPT).arg("LOAD").arg(script.source())).compose(sha -> {
        if (sha == null || !script.sha().equals(sha.toString())) {
          return Future.failedFuture(new IllegalStateException("Redis named script " + script.name() + " " + sha + ", expected " + script.sha()));
        }
        return Future.succeededFuture(sha);
      }));
    }
    return Future.all(loads).mapEmpty();
  }

  /** Runs the script by its SHA-1, falling back to its source when Redis does not know it. */
  Future<Response> run(Script script, List<String> keys, List<String> args) {
    return redis.send(call(Command.EVALSHA, script.sha(), keys, args)).recover(failure -> {
      if (!isNoScript(failure)) {
        return Future.failedFuture(failure);
      }
      return redis.send(call(Command.EVAL, script.source(), keys, args));
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

  /** One operation's full source (common.lua, then its file) and the SHA-1 Redis knows it by. */
  record Script(String name, String source, String sha) {
    static Script named(String name) {
      String source = resource("common.lua") + "\n" + resource(name + ".lua");
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
