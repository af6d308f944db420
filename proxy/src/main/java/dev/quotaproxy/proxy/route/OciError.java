package dev.quotaproxy.proxy.route;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.Map;

/**
 * An error in the distribution-spec form, {@code {"errors":[{"code":..,"message":..,"detail":..}]}},
 * with the HTTP status that carries it. Every reply the proxy makes on its own is one of these.
 *
 * @param retryAfterSeconds value of {@code Retry-After}, or 0 for none
 */
public record OciError(int status, String code, String message, Map<String, Object> detail, long retryAfterSeconds) {

  public OciError {
    detail = Map.copyOf(detail);
  }

  /** A request the proxy refuses to pass on as it came, with the registry's own code for the case. */
  public static OciError badRequest(String code, String message) {
    return new OciError(400, code, message, Map.of(), 0);
  }

  /** The upstream could not be reached or broke off before answering. */
  public static OciError badGateway(String message) {
    return new OciError(502, "UNAVAILABLE", message, Map.of(), 0);
  }

  /** The upstream did not answer in time. */
  public static OciError gatewayTimeout(String message) {
    return new OciError(504, "UNAVAILABLE", message, Map.of(), 0);
  }

  /** The proxy is too busy to take the request now; the client should retry. */
  public static OciError unavailable(String message, long retryAfterSeconds) {
    return new OciError(503, "UNAVAILABLE", message, Map.of(), retryAfterSeconds);
  }

  public String body() {
    JsonObject error = new JsonObject().put("code", code).put("message", message);
    if (!detail.isEmpty()) {
      error.put("detail", new JsonObject(Map.copyOf(detail)));
    }
    return new JsonObject().put("errors", new JsonArray().add(error)).encode();
  }
}
