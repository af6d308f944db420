package dev.quotaproxy.proxy.http;

import dev.quotaproxy.proxy.route.OciRequest;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One JSON line per request on the {@code access} logger: what it was, how it ended, body bytes each
 * way. Status 0 means no response head was sent (the client left, or the exchange was cut off).
 */
final class AccessLog {
  private static final Logger LOG = LoggerFactory.getLogger("access");

  private AccessLog() {}

  static void write(OciRequest oci, String method, String path, String user, int status, long bytesIn, long bytesOut, long millis,
      String outcome) {
    if (!LOG.isInfoEnabled()) {
      return;
    }
    JsonObject line = new JsonObject()
        .put("op", oci.operation().name())
        .put("repo", oci.repository())
        .put("method", method)
        .put("path", path)
        .put("user", user)
        .put("status", status)
        .put("bytes_in", bytesIn)
        .put("bytes_out", bytesOut)
        .put("ms", millis)
        .put("outcome", outcome);
    LOG.info(line.encode());
  }
}
