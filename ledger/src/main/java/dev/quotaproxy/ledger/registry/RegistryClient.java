package dev.quotaproxy.ledger.registry;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * GET and HEAD against one registry, never more than the configured number in flight. Non-blocking:
 * every call returns at once with a future.
 */
final class RegistryClient {
  /** One link of a Link header: {@code <url>; rel="next"}. */
  private static final Pattern LINK = Pattern.compile("<([^>]*)>\\s*((?:;\\s*[^;,]*)*)");
  private static final Pattern REL_NEXT = Pattern.compile(";\\s*rel\\s*=\\s*\"?next\"?(?:[\\s;]|$)");

  private final WalkerOptions options;
  private final HttpClientAgent http;
  private final Limiter limiter;

  record Answer(int status, MultiMap headers, Buffer body) {
    String header(String name) {
      return headers.get(name);
    }
  }

  RegistryClient(Vertx vertx, WalkerOptions options) {
    this.options = options;
    // The pool is as large as the limiter, so an admitted request never queues for a connection.
    HttpClientOptions client = new HttpClientOptions().setKeepAlive(true).setSsl(options.https())
        .setConnectTimeout((int) Math.min(Integer.MAX_VALUE, options.timeout().toMillis()));
    options.caCertificates().ifPresent(ca -> client.setTrustOptions(new PemTrustOptions().addCertPath(ca.toString())));
    this.http = vertx.createHttpClient(client, new PoolOptions().setHttp1MaxSize(options.concurrency()));
    // The caller's context, or a new event-loop context when built outside Vert.x: every request starts on it.
    Context context = vertx.getOrCreateContext();
    this.limiter = new Limiter(context, options.concurrency());
  }

  Future<Answer> get(String pathAndQuery, String accept) {
    return send(HttpMethod.GET, pathAndQuery, accept);
  }

  Future<Answer> head(String path) {
    return send(HttpMethod.HEAD, path, null);
  }

  static JsonObject json(Answer answer, String pathAndQuery) {
    try {
      return answer.body().toJsonObject();
    } catch (DecodeException | ClassCastException e) {
      throw new RegistryException("GET " + pathAndQuery + ": the answer is not a JSON object");
    }
  }

  static RegistryException unexpected(String method, String pathAndQuery, Answer answer) {
    String body = answer.body().toString();
    return new RegistryException(method + " " + pathAndQuery + " answered " + answer.status()
        + (body.isBlank() ? "" : ": " + (body.length() > 300 ? body.substring(0, 300) + "..." : body.strip())));
  }

  /**
   * The path and query of the {@code rel="next"} link of an answer, or null when it has none (the last
   * page). A link the registry made absolute is followed on our own connection to the same registry.
   */
  String nextPage(Answer answer, String current) {
    return nextLink(answer.headers().getAll("Link"), current);
  }

  static String nextLink(List<String> linkHeaders, String current) {
    for (String header : linkHeaders) {
      Matcher link = LINK.matcher(header);
      while (link.find()) {
        if (REL_NEXT.matcher(link.group(2)).find()) {
          String target = link.group(1).trim();
          URI here = URI.create("http://registry" + current);
          if (target.startsWith("?")) {
            // A query alone keeps the path (java.net.URI would resolve it against the parent directory).
            return here.getRawPath() + target;
          }
          URI next = here.resolve(target);
          return next.getRawPath() + (next.getRawQuery() == null ? "" : "?" + next.getRawQuery());
        }
      }
    }
    return null;
  }

  Future<Void> close() {
    return http.close();
  }

  private Future<Answer> send(HttpMethod method, String pathAndQuery, String accept) {
    RequestOptions request = new RequestOptions()
        .setMethod(method)
        .setHost(options.registry().getHost())
        .setPort(options.port())
        .setSsl(options.https())
        .setURI(pathAndQuery)
        .setIdleTimeout(options.timeout().toMillis());
    if (accept != null) {
      request.putHeader("Accept", accept);
    }
    // body() is asked for inside send()'s callback, on the request's context: chained one level out, or
    // from a thread outside Vert.x, the response can end before it is asked for, and the future then never
    // completes (eclipse-vertx/vert.x#4705). The limiter starts every request on its context.
    return limiter.submit(() -> http.request(request)
        .compose(outgoing -> outgoing.send().compose(response -> response.body().map(body -> answer(response, body))))
        .recover(failure -> Future.failedFuture(failure instanceof RegistryException
            ? failure
            : new RegistryException(method + " " + pathAndQuery + " failed: " + failure, failure))));
  }

  private static Answer answer(HttpClientResponse response, Buffer body) {
    return new Answer(response.statusCode(), response.headers(), body);
  }
}
