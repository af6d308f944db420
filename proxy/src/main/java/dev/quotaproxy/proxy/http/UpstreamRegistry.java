package dev.quotaproxy.proxy.http;

import dev.quotaproxy.proxy.quota.ExchangeQuota.UpstreamAnswer;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;

/**
 * The proxy's own requests to the registry, besides the one it forwards: a blob's or manifest's size
 * (a {@code HEAD}, see {@link dev.quotaproxy.proxy.quota.ExchangeView#upstreamSize}), an upload's
 * status, the cancel of an upload the proxy refused, and whether the registry lets a client read a
 * repository. Each carries the client's credentials, so the registry answers as it would the client.
 * One per event loop, on its upstream pool.
 */
public final class UpstreamRegistry {
  /** How much of an error answer to the proxy's own requests is kept to relay: registries' error bodies are small JSON. */
  static final int OWN_ANSWER_BODY_BYTES = 64 * 1024;

  private final HttpClient upstream;
  private final long idleTimeoutMillis;

  /** @param idleTimeoutMillis how long a request may see nothing from the registry before it fails */
  public UpstreamRegistry(HttpClient upstream, long idleTimeoutMillis) {
    this.upstream = upstream;
    this.idleTimeoutMillis = idleTimeoutMillis;
  }

  /**
   * Sends {@code method uri} with the client's {@code Authorization} (when it has one) and reads the
   * answer; its body is kept only up to {@link #OWN_ANSWER_BODY_BYTES}.
   *
   * @return fails only when the registry could not be asked or broke off its answer
   */
  public Future<UpstreamAnswer> ask(HttpMethod method, String uri, String authorization) {
    // Bounded like any exchange: a registry that stops answering costs the client a 504, not a hang.
    RequestOptions options = new RequestOptions().setMethod(method).setURI(uri).setIdleTimeout(idleTimeoutMillis);
    if (authorization != null) {
      options.putHeader(HttpHeaders.AUTHORIZATION, authorization);
    }
    options.putHeader("Via", ForwardedHeaders.VIA);
    return upstream.request(options)
        .compose(HttpClientRequest::send)
        .compose(answer -> {
          Buffer kept = Buffer.buffer();
          Promise<UpstreamAnswer> done = Promise.promise();
          answer.handler(piece -> {
            if (kept.length() + piece.length() <= OWN_ANSWER_BODY_BYTES) {
              kept.appendBuffer(piece);
            }
          });
          answer.exceptionHandler(done::tryFail);
          answer.endHandler(v -> done.tryComplete(new UpstreamAnswer(answer.statusCode(), answer.headers(), kept)));
          return done.future();
        });
  }

  /**
   * Asks the registry, with the client's credentials, a read of the repository (its tag list), which
   * tells whether the registry would serve the client at all.
   *
   * @return the registry's refusal (401 or 403) as the client should get it; null when the registry
   *     serves the client, or could not be asked
   */
  public Future<UpstreamAnswer> readRefusal(String repository, String authorization) {
    return ask(HttpMethod.GET, "/v2/" + repository + "/tags/list", authorization)
        .map(answer -> answer.status() == 401 || answer.status() == 403 ? answer : null)
        .otherwise((UpstreamAnswer) null);
  }
}
