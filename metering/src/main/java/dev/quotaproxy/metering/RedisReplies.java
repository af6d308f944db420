package dev.quotaproxy.metering;

import io.vertx.redis.client.Response;
import java.util.function.BiConsumer;

/** Reading Redis replies the same way whichever protocol the client speaks. */
public final class RedisReplies {
  private RedisReplies() {}

  /** Each field of a hash reply (a RESP3 map, or RESP2's flat array of fields and values); none for null. */
  public static void forEachField(Response reply, BiConsumer<String, Response> field) {
    if (reply == null) {
      return;
    }
    if (reply.isMap()) {
      reply.getKeys().forEach(key -> field.accept(key, reply.get(key)));
    } else {
      for (int i = 0; i + 1 < reply.size(); i += 2) {
        field.accept(reply.get(i).toString(), reply.get(i + 1));
      }
    }
  }
}
