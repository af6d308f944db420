package dev.quotaproxy.proxy.quota;

import dev.quotaproxy.proxy.quota.ExchangeQuota.UpstreamAnswer;
import dev.quotaproxy.proxy.route.OciOperation;
import dev.quotaproxy.proxy.route.OciRequest;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * An exchange as the rules see it, set up field by field by a test. What the rules ask the registry is
 * recorded ({@link #asked}) and answered as programmed with {@link #upstream}, else {@code 404}; a body
 * read is answered with {@link #body}.
 */
final class FakeExchange implements ExchangeView {
  /** A request the rule asked the registry. */
  record Asked(HttpMethod method, String uri) {}

  OciRequest oci;
  String user = "alice";
  String uri;
  String clientAddress = "192.0.2.7";
  long contentLength = -1;
  boolean chunked;
  String contentType;
  boolean clientGone;
  long sentUpstream;
  /** What {@link #readBody} gives. */
  Future<Buffer> body = Future.failedFuture(new IllegalStateException("no body programmed"));
  /** The limits {@link #readBody} was called with. */
  final List<Integer> bodyReads = new ArrayList<>();
  final List<Asked> asked = new ArrayList<>();
  private final Map<Asked, Supplier<Future<UpstreamAnswer>>> upstream = new HashMap<>();

  private FakeExchange(OciRequest oci, String uri) {
    this.oci = oci;
    this.uri = uri;
  }

  static FakeExchange of(OciOperation operation, String repository, String uri) {
    return new FakeExchange(new OciRequest(operation, repository, null, null, null, null), uri);
  }

  /** {@code sha256:} and 64 times {@code fill}: a valid digest. */
  static String digest(char fill) {
    return "sha256:" + String.valueOf(fill).repeat(64);
  }

  FakeExchange digest(String digest) {
    oci = new OciRequest(oci.operation(), oci.repository(), oci.reference(), digest, oci.uploadId(), oci.mountFrom());
    return this;
  }

  FakeExchange reference(String reference) {
    oci = new OciRequest(oci.operation(), oci.repository(), reference, oci.digest(), oci.uploadId(), oci.mountFrom());
    return this;
  }

  FakeExchange uploadId(String uploadId) {
    oci = new OciRequest(oci.operation(), oci.repository(), oci.reference(), oci.digest(), uploadId, oci.mountFrom());
    return this;
  }

  FakeExchange mountFrom(String from) {
    oci = new OciRequest(oci.operation(), oci.repository(), oci.reference(), oci.digest(), oci.uploadId(), from);
    return this;
  }

  /** The registry answers {@code method uri} with {@code status} and the headers given as name, value, .... */
  FakeExchange upstream(HttpMethod method, String uri, int status, String... headers) {
    UpstreamAnswer answer = answer(status, headers);
    upstream.put(new Asked(method, uri), () -> Future.succeededFuture(answer));
    return this;
  }

  /** The registry cannot be asked {@code method uri}. */
  FakeExchange upstreamFails(HttpMethod method, String uri) {
    upstream.put(new Asked(method, uri), () -> Future.failedFuture(new IllegalStateException("connection refused")));
    return this;
  }

  static UpstreamAnswer answer(int status, String... headers) {
    return new UpstreamAnswer(status, headers(headers), Buffer.buffer());
  }

  static MultiMap headers(String... namesAndValues) {
    MultiMap headers = MultiMap.caseInsensitiveMultiMap();
    for (int i = 0; i < namesAndValues.length; i += 2) {
      headers.add(namesAndValues[i], namesAndValues[i + 1]);
    }
    return headers;
  }

  @Override
  public OciRequest oci() {
    return oci;
  }

  @Override
  public String user() {
    return user;
  }

  @Override
  public boolean clientGone() {
    return clientGone;
  }

  @Override
  public long bodyBytesSentUpstream() {
    return sentUpstream;
  }

  @Override
  public String clientAddress() {
    return clientAddress;
  }

  @Override
  public long contentLength() {
    return contentLength;
  }

  @Override
  public boolean chunked() {
    return chunked;
  }

  @Override
  public String contentType() {
    return contentType;
  }

  @Override
  public Future<Buffer> readBody(int maxBytes, Duration deadline) {
    bodyReads.add(maxBytes);
    return body;
  }

  @Override
  public Future<UpstreamAnswer> askUpstream(HttpMethod method, String uri) {
    Asked request = new Asked(method, uri);
    asked.add(request);
    Supplier<Future<UpstreamAnswer>> answer = upstream.get(request);
    return answer != null ? answer.get() : Future.succeededFuture(answer(404));
  }

  @Override
  public String uri() {
    return uri;
  }
}
