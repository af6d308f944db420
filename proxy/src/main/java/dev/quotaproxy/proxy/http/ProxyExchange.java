package dev.quotaproxy.proxy.http;

import dev.quotaproxy.config.ProxyConfig;
import dev.quotaproxy.proxy.metrics.Outcome;
import dev.quotaproxy.proxy.route.OciError;
import dev.quotaproxy.proxy.route.OciOperation;
import dev.quotaproxy.proxy.route.OciRequest;
import dev.quotaproxy.proxy.route.OciRequestClassifier;
import dev.quotaproxy.proxy.route.RequestScreen;
import dev.quotaproxy.proxy.route.RequestTarget;
import dev.quotaproxy.proxy.quota.ExchangeQuota;
import dev.quotaproxy.proxy.quota.ExchangeQuota.Admission;
import dev.quotaproxy.proxy.quota.ExchangeQuota.UpstreamAnswer;
import dev.quotaproxy.proxy.quota.QuotaErrors;
import dev.quotaproxy.proxy.quota.ExchangeView;
import dev.quotaproxy.proxy.quota.Principal;
import dev.quotaproxy.proxy.quota.RefusalReason;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.epoll.AbstractEpollStreamChannel;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ConnectionPoolTooBusyException;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.net.HostAndPort;
import io.vertx.core.streams.ReadStream;
import java.net.ConnectException;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One request through the proxy: classify it, let its quota rules decide on it, forward it with its
 * body streaming under backpressure, let the quota rules see the answer, relay it the same way, and
 * log it once. Runs on one event loop; no locks.
 *
 * <p>Failure rules: before the response head is sent, the client gets an OCI error (502, 503, 504);
 * after it, both connections are closed so that a truncated body can never look complete. A client
 * that goes away resets the upstream request, which closes that connection instead of returning it
 * to the pool half-used.
 */
public final class ProxyExchange implements ExchangeView {
  private static final Logger LOG = LoggerFactory.getLogger(ProxyExchange.class);
  private static final Set<String> SET_BY_PROXY = Set.of(
      "host", "expect", "content-length", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "forwarded");
  private static final String VIA = "1.1 quota-proxy";
  /** Most an answer given before the request body was taken may carry: such answers are errors, and small. */
  private static final int EARLY_ANSWER_BYTES = 1024 * 1024;
  /** How long a client may keep sending a body nobody will read, after its answer, before the close. */
  private static final long LINGER_MILLIS = 5_000;
  /** How often a spliced body, which the client connection's idle timer cannot see, tells that timer it is moving. */
  private static final long SPLICE_KEEPALIVE_NANOS = 1_000_000_000L;

  private final ProxyContext context;
  private final HttpServerRequest request;
  private final HttpServerResponse response;
  private final OciRequest oci;
  private final String path;
  private final RequestTarget target;
  private final long startNanos = System.nanoTime();
  private final IdleWatchdog watchdog;
  private final MeteredReadStream requestBody;
  private final String user;
  private ExchangeQuota quota = ExchangeQuota.NONE;

  /** What admission decided: forward as is, with a body read already, or to another URI. */
  private Admission admission = Admission.FORWARD;
  /** The body as it will be forwarded: the request's, or the request's with its first piece taken already. */
  private ReadStream<Buffer> body;
  /** The body is guarded (see {@link ExchangeQuota#guardsBody()}): first byte first, head upstream with Expect. */
  private boolean guarded;
  /** The registry asked for the guarded body (or did not answer in time): decided once. */
  private boolean upstreamContinued;
  /** The body as it goes upstream, counted; null until it starts. */
  private MeteredReadStream sentUpstream;
  /** The registry's answer given before the request body was taken, read whole; null otherwise. */
  private Buffer earlyAnswer;
  /** Why the client went away while the registry still had to answer (see {@link #abort}); null while it is there. */
  private String clientGone;
  private long continueTimer = -1;
  private long firstByteTimer = -1;

  private HttpClientRequest upstreamRequest;
  private HttpClientResponse upstreamResponse;
  /** Upstream and client channels, and the upstream's gate, when this exchange's answer may be spliced; null otherwise. */
  private AbstractEpollStreamChannel[] spliceChannels;
  private SpliceGate spliceGate;
  private long splicedBytes;
  private long lastSpliceKeepAlive;
  private boolean requestBodyDone;
  private boolean continueSent;
  private boolean replied;
  private boolean finished;

  private ProxyExchange(ProxyContext context, HttpServerRequest request) {
    this.context = context;
    this.request = request;
    this.response = request.response();
    this.path = request.path();
    this.target = RequestTarget.parse(path, request.query());
    this.oci = OciRequestClassifier.classify(request.method().name(), target);
    this.watchdog = new IdleWatchdog(context.vertx(), context.config().upstream().idleTimeout().toMillis(), this::onIdle);
    this.requestBody = new MeteredReadStream(request, this::bodyMoved);
    this.body = requestBody;
    this.user = Principal.user(request.getHeader(HttpHeaders.AUTHORIZATION));
  }

  public static void handle(ProxyContext context, HttpServerRequest request) {
    request.pause();
    new ProxyExchange(context, request).start();
  }

  private void start() {
    response.closeHandler(v -> abort("client closed the connection"));
    request.exceptionHandler(e -> abort("client request failed: " + describe(e)));
    if (refusedByScreen()) {
      return;
    }
    quota = context.quota().forExchange(this);
    guarded = quota.guardsBody() && hasBody();
    if (guarded && !expectsContinue()) {
      // A head alone asks nothing of the quota store or the registry: a client that sends nothing after
      // it holds no reservation and no upstream connection, only its own until the deadline.
      startFirstByteDeadline();
      body = HeldBody.take(requestBody, this::admit);
    } else {
      admit();
    }
  }

  private void admit() {
    quota.admit().onComplete(decision -> {
      if (finished) {
        return;
      }
      if (decision.failed()) {
        abort("admission failed: " + describe(decision.cause()));
        return;
      }
      admission = decision.result();
      if (admission.refused()) {
        refuse(admission.refusal());
      } else if (admission.answered()) {
        answerWith(admission.answer());
      } else if (guarded || quota.guardsBody() && admission.body() != null && admission.body().length() > 0) {
        forwardGuarded();
      } else {
        decideThenForward();
      }
    });
  }

  /** A request whose body is not guarded: decided now, then forwarded as it comes. */
  private void decideThenForward() {
    quota.decide().onComplete(decision -> {
      if (finished) {
        return;
      }
      if (decision.failed()) {
        abort("decision failed: " + describe(decision.cause()));
        return;
      }
      Admission decided = decision.result();
      if (decided.refused()) {
        refuse(decided.refusal());
        return;
      }
      if (hasBody()) {
        // Answered here and not forwarded: the decision to take the body is the proxy's.
        sendContinueIfExpected();
      }
      forward(decided.uri() != null ? decided.uri() : admission.uri());
    });
  }

  private void refuse(OciError refusal) {
    context.meters().rejected(oci.operation(), RefusalReason.of(refusal));
    reply(refusal, "refused " + refusal.code());
    resetUpstream();
  }

  private boolean expectsContinue() {
    return "100-continue".equalsIgnoreCase(request.getHeader(HttpHeaders.EXPECT));
  }

  /** Every byte of the request body that moves: the idle watchdog sees it, and the first one ends the first-byte deadline. */
  private void bodyMoved() {
    watchdog.touch();
    if (firstByteTimer != -1) {
      context.vertx().cancelTimer(firstByteTimer);
      firstByteTimer = -1;
    }
  }

  /** The body's first byte must come within the deadline from now, or the request is cut off holding nothing. */
  private void startFirstByteDeadline() {
    long millis = context.config().quota().guards().bodyFirstByteTimeout().toMillis();
    firstByteTimer = context.vertx().setTimer(millis, id -> {
      firstByteTimer = -1;
      if (!finished && requestBody.bytes() == 0 && !request.isEnded()) {
        OciError timeout = QuotaErrors.bodyTimeout("the request body did not start within " + millis + "ms");
        context.meters().rejected(oci.operation(), RefusalReason.of(timeout));
        reply(timeout, "aborted: no body within " + millis + "ms");
        resetUpstream();
      }
    });
  }

  /**
   * Refuses, before any quota rule runs or a byte goes upstream, a request the registry might execute
   * otherwise than it was classified (see {@link RequestScreen}). What passes is forwarded with its raw
   * path and query: the screen has made sure they mean to the registry what they meant here.
   */
  private boolean refusedByScreen() {
    Optional<OciError> refusal = RequestScreen.refusal(request.method().name(), target, oci,
        request.headers().getAll(HttpHeaders.CONTENT_TYPE), hasBody());
    if (refusal.isEmpty()) {
      return false;
    }
    context.meters().rejected(oci.operation(), RefusalReason.of(refusal.get()));
    reply(refusal.get(), "refused " + refusal.get().code());
    return true;
  }

  private void sendContinueIfExpected() {
    if (!continueSent && "100-continue".equalsIgnoreCase(request.getHeader(HttpHeaders.EXPECT))) {
      continueSent = true;
      response.writeContinue();
    }
  }

  /**
   * A guarded body's request: its head goes upstream with {@code Expect: 100-continue}, and the quota
   * decides once the registry asks for the body, so only after the registry's own authentication. A
   * registry that does not ask within {@code upstream.continue-timeout} gets the body anyway, decided
   * without it; one that answers instead is relayed, and no decision is made.
   */
  private void forwardGuarded() {
    openUpstream(admission.uri() != null ? admission.uri() : uri(), () -> {
      if (admission.body() != null) {
        upstreamRequest.putHeader(HttpHeaders.CONTENT_LENGTH, Integer.toString(admission.body().length()));
      } else if (chunked()) {
        upstreamRequest.setChunked(true);
      } else {
        upstreamRequest.putHeader(HttpHeaders.CONTENT_LENGTH, request.getHeader(HttpHeaders.CONTENT_LENGTH));
      }
      upstreamRequest.putHeader(HttpHeaders.EXPECT, "100-continue");
      upstreamRequest.continueHandler(v -> upstreamContinued());
      upstreamRequest.sendHead();
      continueTimer = context.vertx().setTimer(context.config().upstream().continueTimeout().toMillis(), id -> {
        continueTimer = -1;
        continueTimedOut();
      });
    });
  }

  /**
   * The registry neither asked for the body nor answered. CNCF distribution does this when it refuses a
   * client whose body is small or chunked (Go tries to read the body it will discard before it sends the
   * refusal), so silence says nothing about authentication: the registry is asked, with the client's
   * credentials, a read of the repository (its tag list), and a client it refuses gets that refusal, the
   * quota never consulted. A client it serves is decided on as if the registry had asked for the body.
   */
  private void continueTimedOut() {
    if (upstreamContinued || finished || upstreamResponse != null) {
      return;
    }
    askUpstream(HttpMethod.GET, "/v2/" + oci.repository() + "/tags/list").onComplete(probe -> {
      if (finished || upstreamResponse != null || upstreamContinued) {
        return;
      }
      if (probe.succeeded() && (probe.result().status() == 401 || probe.result().status() == 403)) {
        LOG.debug("{} {}: the registry refuses the client; no quota decision", request.method(), path);
        answerWith(probe.result());
        resetUpstream();
        return;
      }
      upstreamContinued();
    });
  }

  /** The registry asked for the guarded body (or took too long to): decide, then send it or refuse. */
  private void upstreamContinued() {
    if (continueTimer != -1) {
      context.vertx().cancelTimer(continueTimer);
      continueTimer = -1;
    }
    if (upstreamContinued || finished || upstreamResponse != null) {
      return;
    }
    upstreamContinued = true;
    quota.decide().onComplete(decision -> {
      if (finished || upstreamResponse != null) {
        // Over, or the registry answered meanwhile: that answer is relayed, and the quota's ended() releases.
        return;
      }
      if (decision.failed()) {
        abort("decision failed: " + describe(decision.cause()));
        return;
      }
      if (decision.result().refused()) {
        refuse(decision.result().refusal());
        return;
      }
      sendGuardedBody();
    });
  }

  private void sendGuardedBody() {
    if (admission.body() != null) {
      requestBodyDone = true;
      upstreamRequest.end(admission.body());
      return;
    }
    if (expectsContinue() && requestBody.bytes() == 0) {
      // The client waited for our 100: its deadline for the first byte starts now.
      startFirstByteDeadline();
    }
    sendContinueIfExpected();
    pipeBody();
  }

  private void pipeBody() {
    sentUpstream = new MeteredReadStream(quota.body(body, this::refuseMidStream), () -> { });
    sentUpstream.pipe().endOnFailure(false).to(upstreamRequest).onComplete(sent -> {
      if (sent.succeeded()) {
        requestBodyDone = true;
      } else if (upstreamResponse != null) {
        // The registry answered early and stopped reading (a 401 before the upload, say): its answer
        // still goes to the client whole, then the connection closes over the unread rest.
        LOG.debug("{} {}: request body cut short after the answer: {}", request.method(), path, describe(sent.cause()));
      } else if (!finished && !replied) {
        abort("request body failed: " + describe(sent.cause()));
      }
    });
  }

  /**
   * Starts the watchdog and opens the upstream request with the client's headers, its answer wired to
   * {@link #relay}; then {@code send} sends it. An upstream that cannot be had is answered for.
   */
  private void openUpstream(String uri, Runnable send) {
    watchdog.start();
    RequestOptions options = new RequestOptions()
        .setMethod(request.method())
        .setURI(uri)
        .setHeaders(upstreamHeaders());
    context.upstream().request(options).onComplete(ar -> {
      if (ar.failed()) {
        upstreamFailed(ar.cause());
        return;
      }
      upstreamRequest = ar.result();
      if (finished) {
        resetUpstream();
        return;
      }
      // Failures arrive through the response future and the body pipe; this only keeps Vert.x from logging them again.
      upstreamRequest.exceptionHandler(e -> LOG.debug("{} {}: upstream request: {}", request.method(), path, e.toString()));
      upstreamRequest.response().onComplete(r -> {
        if (r.succeeded()) {
          relay(r.result());
        } else {
          upstreamFailed(r.cause());
        }
      });
      send.run();
    });
  }

  private void forward(String forwardUri) {
    openUpstream(forwardUri != null ? forwardUri : uri(), () -> {
      if (admission.body() != null) {
        // The body was read already (a manifest with quotas that do not guard it): send it as read.
        requestBodyDone = true;
        upstreamRequest.putHeader(HttpHeaders.CONTENT_LENGTH, Integer.toString(admission.body().length()));
        upstreamRequest.end(admission.body());
        return;
      }
      if (!hasBody()) {
        requestBodyDone = true;
        armSplice();
        upstreamRequest.end();
        return;
      }
      if (chunked()) {
        upstreamRequest.setChunked(true);
      } else {
        upstreamRequest.putHeader(HttpHeaders.CONTENT_LENGTH, request.getHeader(HttpHeaders.CONTENT_LENGTH));
      }
      pipeBody();
    });
  }

  /** A blob download may skip the JVM (see {@link SplicedBody}); the gate decides once it sees the answer's head. */
  private void armSplice() {
    if (!context.config().zeroCopy() || request.method() != HttpMethod.GET || oci.operation() != OciOperation.BLOB_GET
        || request.version() == HttpVersion.HTTP_2) {
      return;
    }
    spliceChannels = SplicedBody.channels(upstreamRequest.connection(), request.connection());
    if (spliceChannels != null) {
      spliceGate = SplicedBody.gate(upstreamRequest.connection());
      spliceGate.arm();
    }
  }

  /** A quota rule stopped a body part-way (a chunked upload over the limit): refuse, never forward the rest. */
  private void refuseMidStream(OciError refusal) {
    if (finished) {
      return;
    }
    context.meters().rejected(oci.operation(), RefusalReason.of(refusal));
    reply(refusal, "refused " + refusal.code() + " mid-body");
    resetUpstream();
  }

  private MultiMap upstreamHeaders() {
    MultiMap headers = MultiMap.caseInsensitiveMultiMap();
    ProxyConfig.Listen listen = context.config().listen();
    if (listen.trustForwardedHeaders()) {
      HopByHopHeaders.copyEndToEnd(request.headers(), headers, Set.of("host", "expect", "content-length", "x-forwarded-for"));
    } else {
      HopByHopHeaders.copyEndToEnd(request.headers(), headers, SET_BY_PROXY);
    }
    // The registry builds its Location and Link URLs from these, so they point at the proxy.
    HostAndPort clientHost = clientAuthority();
    if (!headers.contains("x-forwarded-host") && clientHost != null) {
      headers.set("X-Forwarded-Host", clientHost.toString());
    }
    if (!headers.contains("x-forwarded-proto")) {
      headers.set("X-Forwarded-Proto", listen.scheme());
    }
    String clientAddress = request.remoteAddress() == null ? null : request.remoteAddress().hostAddress();
    String forwardedFor = listen.trustForwardedHeaders() ? request.getHeader("x-forwarded-for") : null;
    if (clientAddress != null) {
      headers.set("X-Forwarded-For", forwardedFor == null ? clientAddress : forwardedFor + ", " + clientAddress);
    }
    headers.add("Via", VIA);
    return headers;
  }

  private void relay(HttpClientResponse upstream) {
    if (finished) {
      return;
    }
    upstreamResponse = upstream;
    watchdog.touch();
    if (!requestBodyDone) {
      // An answer before the body was taken (a 401, say): the registry closes its connection right after
      // it, and an answer held paused would be lost with the connection. It is small: read whole first.
      readEarlyAnswer(upstream).onComplete(read -> {
        if (read.failed()) {
          abort("early answer failed: " + describe(read.cause()));
          return;
        }
        earlyAnswer = read.result();
        decideOnAnswer(upstream);
      });
      return;
    }
    upstream.pause();
    decideOnAnswer(upstream);
  }

  /** The body of an answer given before the request's body was taken, read whole (at most {@link #EARLY_ANSWER_BYTES}). */
  private static Future<Buffer> readEarlyAnswer(HttpClientResponse upstream) {
    Promise<Buffer> read = Promise.promise();
    Buffer body = Buffer.buffer();
    upstream.handler(piece -> {
      if (body.length() + piece.length() > EARLY_ANSWER_BYTES) {
        upstream.handler(null);
        read.tryFail(new IllegalStateException("an answer before the body of over " + EARLY_ANSWER_BYTES + " bytes"));
      } else {
        body.appendBuffer(piece);
      }
    });
    upstream.exceptionHandler(read::tryFail);
    upstream.endHandler(v -> read.tryComplete(body));
    upstream.resume();
    return read.future();
  }

  private void decideOnAnswer(HttpClientResponse upstream) {
    if (clientGone != null) {
      quota.answered(upstream.statusCode(), upstream.headers()).onComplete(booked -> {
        finish("aborted: " + clientGone);
        resetUpstream();
      });
      return;
    }
    if (continueTimer != -1) {
      context.vertx().cancelTimer(continueTimer);
      continueTimer = -1;
    }
    quota.answered(upstream.statusCode(), upstream.headers()).onComplete(answer -> {
      if (finished) {
        return;
      }
      if (answer.succeeded() && answer.result().refused()) {
        // Decided on the registry's answer (a pull over its egress limit): its body is not taken.
        refuse(answer.result().refusal());
        return;
      }
      relayHead(upstream, answer.succeeded() ? answer.result().warnings() : List.of());
    });
  }

  private void relayHead(HttpClientResponse upstream, List<String> warnings) {
    response.setStatusCode(upstream.statusCode());
    if (upstream.statusMessage() != null) {
      response.setStatusMessage(upstream.statusMessage());
    }
    MultiMap headers = response.headers();
    HopByHopHeaders.copyEndToEnd(upstream.headers(), headers, Set.of());
    String clientOrigin = clientOrigin();
    rewrite(headers, "Location", value -> context.rewriter().rewriteUrl(value, clientOrigin));
    rewrite(headers, "Content-Location", value -> context.rewriter().rewriteUrl(value, clientOrigin));
    rewrite(headers, "Link", value -> context.rewriter().rewriteLink(value, clientOrigin));
    warnings.forEach(warning -> headers.add("Warning", warning));
    boolean bodiless = request.method() == HttpMethod.HEAD || upstream.statusCode() == 204 || upstream.statusCode() == 304;
    if (!bodiless && !headers.contains(HttpHeaders.CONTENT_LENGTH)) {
      response.setChunked(true);
    }
    if (!requestBodyDone) {
      // The registry answered before taking the whole body: the rest of it must not be read as a next request.
      headers.set(HttpHeaders.CONNECTION, "close");
    }
    if (spliceGate != null && spliceGate.holding()) {
      relaySpliced(upstream, spliceGate);
      return;
    }
    Future<Void> relayed = earlyAnswer != null
        ? response.end(earlyAnswer)
        : new MeteredReadStream(upstream, watchdog::touch).pipe().endOnFailure(false).to(response);
    relayed.onComplete(done -> {
      if (done.failed()) {
        abort("response body failed: " + describe(done.cause()));
        return;
      }
      finish("ok");
      if (!requestBodyDone) {
        resetUpstream();
        closeAfterDrainingRequest();
      }
    });
  }

  /**
   * Sends the head and the body bytes the gate held through Vert.x, then, once they have left, has the
   * kernel move the rest. The upstream connection is closed afterwards: its HTTP decoder never saw the
   * body end, so it cannot carry another exchange.
   */
  private void relaySpliced(HttpClientResponse upstream, SpliceGate gate) {
    // The reset below surfaces here; the exchange is over by then.
    upstream.exceptionHandler(e -> LOG.debug("{} {}: upstream after splice: {}", request.method(), path, e.toString()));
    gate.handOver().compose(held -> {
      if (finished) {
        return Future.<Void>failedFuture("exchange already ended");
      }
      watchdog.touch();
      Future<Void> sent = response.writeHead();
      if (held.bytes().length() > 0) {
        sent = response.write(held.bytes());
      }
      lastSpliceKeepAlive = System.nanoTime();
      return sent.compose(v -> finished
          ? Future.<Void>failedFuture("exchange already ended")
          : SplicedBody.start(spliceChannels[0], spliceChannels[1], held.remaining(), this::splicedPiece));
    }).onComplete(done -> {
      if (finished) {
        return;
      }
      if (done.failed()) {
        abort("response body failed: " + describe(done.cause()));
        return;
      }
      response.end();
      finish("ok");
      resetUpstream();
    });
  }

  private void splicedPiece(long bytes) {
    splicedBytes += bytes;
    watchdog.touch();
    long now = System.nanoTime();
    if (now - lastSpliceKeepAlive >= SPLICE_KEEPALIVE_NANOS && !response.closed()) {
      // An empty write passes the client connection's idle handler, which spliced bytes bypass.
      lastSpliceKeepAlive = now;
      response.write(Buffer.buffer());
    }
  }

  private static void rewrite(MultiMap headers, String name, java.util.function.UnaryOperator<String> rewriter) {
    if (headers.contains(name)) {
      headers.set(name, headers.getAll(name).stream().map(rewriter).toList());
    }
  }

  /**
   * Answers for an upstream that could not be used. The client is told what kind of failure it was;
   * where the registry lives and the low-level cause go only to the log.
   */
  private void upstreamFailed(Throwable cause) {
    if (finished) {
      return;
    }
    OciError error;
    if (cause instanceof ConnectionPoolTooBusyException) {
      error = OciError.unavailable("too many requests waiting for a connection to the upstream registry", 1);
    } else if (cause instanceof ConnectTimeoutException) {
      error = OciError.gatewayTimeout("the upstream registry did not accept a connection within "
          + context.config().upstream().connectTimeout().toMillis() + "ms");
    } else if (cause instanceof ConnectException || cause instanceof UnknownHostException) {
      error = OciError.badGateway("the upstream registry is unreachable");
    } else if (cause instanceof SSLException) {
      error = OciError.badGateway("TLS with the upstream registry failed");
    } else {
      error = OciError.badGateway("the upstream registry failed to answer");
    }
    LOG.warn("{} {}: {} ({}: {})", request.method(), path, error.message(), context.config().upstream().origin(), describe(cause));
    reply(error, "upstream error");
    resetUpstream();
  }

  private void onIdle() {
    if (finished) {
      return;
    }
    String timeout = context.config().upstream().idleTimeout().toMillis() + "ms";
    if (upstreamResponse == null && requestBodyDone) {
      String message = "the upstream registry did not answer within " + timeout;
      LOG.warn("{} {}: {} ({})", request.method(), path, message, context.config().upstream().origin());
      reply(OciError.gatewayTimeout(message), "upstream timeout");
      resetUpstream();
    } else {
      abort(upstreamResponse == null ? "client sent nothing for " + timeout : "transfer stalled for " + timeout);
    }
  }

  /** Ends a broken exchange: the upstream connection is reset (never reused), the client's closed. */
  private void abort(String reason) {
    if (finished || replied) {
      // Over already, or answered by the proxy itself: what breaks now is the body it chose not to read.
      return;
    }
    if (clientGone == null && awaitsRegistryVerdict()) {
      // The registry may store or commit what it was sent: its answer is awaited for the quota's books
      // (a commit must be charged even if nobody reads the 201), then dropped.
      clientGone = reason;
      LOG.info("{} {}: client gone ({}), awaiting the registry's answer", request.method(), path, reason);
      if (!requestBodyDone) {
        // A chunked chunk is closed where it stands, so the registry's session stays valid and can be cancelled.
        upstreamRequest.end();
      }
      if (!response.closed()) {
        request.connection().close();
      }
      return;
    }
    String why = clientGone != null ? clientGone + ", then " + reason : reason;
    LOG.info("{} {}: aborted, {}", request.method(), path, why);
    finish("aborted: " + why);
    resetUpstream();
    if (!response.closed()) {
      request.connection().close();
    }
  }

  /**
   * Whether a client that goes away leaves the registry with something to answer that the quota must
   * see: the whole body went up (it may commit), or a guarded chunk can be closed cleanly where it stands.
   */
  private boolean awaitsRegistryVerdict() {
    if (upstreamRequest == null || upstreamResponse != null || !quota.guardsBody()) {
      return false;
    }
    return requestBodyDone || oci.operation() == OciOperation.UPLOAD_CHUNK && upstreamRequest.isChunked() && upstreamContinued;
  }

  /**
   * Closes the client connection once the body it is still sending has been read and dropped, or after
   * {@link #LINGER_MILLIS}. Closing over unread data would send a TCP reset, and a reset makes the
   * client's kernel discard the answer it has not read yet.
   */
  private void closeAfterDrainingRequest() {
    // New handlers on the request itself take it from the body pipe, which is left to lapse: closing
    // it would also strip the upstream request's exception handler.
    if (request.isEnded()) {
      request.connection().close();
      return;
    }
    long timer = context.vertx().setTimer(LINGER_MILLIS, id -> request.connection().close());
    request.handler(dropped -> { });
    request.exceptionHandler(e -> context.vertx().cancelTimer(timer));
    request.endHandler(v -> {
      context.vertx().cancelTimer(timer);
      request.connection().close();
    });
    request.resume();
  }

  /** Resetting closes the upstream connection: a half-used one must never go back to the pool. */
  private void resetUpstream() {
    if (upstreamRequest != null) {
      upstreamRequest.reset();
      if (!requestBodyDone && upstreamResponse != null) {
        // The registry answered a request whose body never went: the client side of that exchange is
        // unfinished, so the connection must not carry another one, whatever reset made of it.
        upstreamRequest.connection().close();
      }
    }
  }

  private void reply(OciError error, String outcome) {
    MultiMap headers = MultiMap.caseInsensitiveMultiMap().add(HttpHeaders.CONTENT_TYPE, "application/json; charset=utf-8");
    if (error.retryAfterSeconds() > 0) {
      headers.add(HttpHeaders.RETRY_AFTER, Long.toString(error.retryAfterSeconds()));
    }
    reply(error.status(), headers, Buffer.buffer(error.body()), outcome);
  }

  /** Answers with what the registry answered to the proxy's own request for this one (an upload's status, say). */
  private void answerWith(UpstreamAnswer answer) {
    MultiMap headers = MultiMap.caseInsensitiveMultiMap();
    for (String name : RELAYED_FROM_OWN_REQUESTS) {
      answer.headers().getAll(name).forEach(value -> headers.add(name, value));
    }
    reply(answer.status(), headers, answer.body(), "answered by the registry");
  }

  /** The proxy's own answer, in place of the registry's; a request body still coming is read and dropped, then the connection closes. */
  private void reply(int status, MultiMap headers, Buffer content, String outcome) {
    replied = true;
    if (!response.headWritten() && !response.closed()) {
      response.setStatusCode(status);
      response.headers().addAll(headers);
      boolean unreadBody = hasBody() && !request.isEnded();
      if (unreadBody) {
        response.putHeader(HttpHeaders.CONNECTION, "close");
      }
      response.end(content).onComplete(v -> {
        if (unreadBody) {
          closeAfterDrainingRequest();
        }
      });
    } else if (!response.closed()) {
      request.connection().close();
    }
    finish(outcome);
  }

  private void finish(String outcome) {
    if (finished) {
      return;
    }
    finished = true;
    watchdog.stop();
    for (long timer : new long[] {continueTimer, firstByteTimer}) {
      if (timer != -1) {
        context.vertx().cancelTimer(timer);
      }
    }
    long nanos = System.nanoTime() - startNanos;
    long millis = nanos / 1_000_000;
    int status = response.headWritten() ? response.getStatusCode() : 0;
    long bytesOut = response.bytesWritten() + splicedBytes;
    quota.ended(status, requestBody.bytes(), bytesOut);
    context.meters().record(oci.operation(), status, Outcome.of(outcome), requestBody.bytes(), bytesOut, nanos);
    if (splicedBytes > 0) {
      context.meters().spliced(splicedBytes);
    }
    AccessLog.write(oci, request.method().name(), path, user, status, requestBody.bytes(), bytesOut, millis, outcome);
  }

  private boolean hasBody() {
    return chunked() || contentLength() > 0;
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
  public long contentLength() {
    String length = request.getHeader(HttpHeaders.CONTENT_LENGTH);
    if (length == null || chunked()) {
      return -1;
    }
    try {
      return Long.parseLong(length.trim());
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  @Override
  public boolean chunked() {
    String encoding = request.getHeader(HttpHeaders.TRANSFER_ENCODING);
    return encoding != null && encoding.toLowerCase(Locale.ROOT).contains("chunked");
  }

  @Override
  public String contentType() {
    return request.getHeader(HttpHeaders.CONTENT_TYPE);
  }

  @Override
  public String uri() {
    return request.query() == null ? path : path + "?" + request.query();
  }

  @Override
  public long bodyBytesSentUpstream() {
    if (admission.body() != null) {
      return requestBodyDone ? admission.body().length() : 0;
    }
    return sentUpstream == null ? 0 : sentUpstream.bytes();
  }

  @Override
  public boolean clientGone() {
    return clientGone != null;
  }

  /**
   * The client's address: the peer's, or, behind a load balancer the proxy trusts, the address that
   * balancer saw (the last of {@code X-Forwarded-For}: earlier entries are the client's own word).
   */
  @Override
  public String clientAddress() {
    if (context.config().listen().trustForwardedHeaders()) {
      String forwarded = request.getHeader("x-forwarded-for");
      if (forwarded != null && !forwarded.isBlank()) {
        String[] hops = forwarded.split(",");
        return hops[hops.length - 1].trim();
      }
    }
    return request.remoteAddress() == null ? "" : request.remoteAddress().hostAddress();
  }

  @Override
  public Future<Buffer> readBody(int maxBytes, Duration deadline) {
    sendContinueIfExpected();
    if (requestBody.bytes() == 0 && firstByteTimer == -1) {
      startFirstByteDeadline();
    }
    Promise<Buffer> read = Promise.promise();
    long timer = context.vertx().setTimer(deadline.toMillis(), id -> {
      body.handler(null);
      request.pause();
      read.tryFail(new BodyTimeoutException("the body did not arrive whole within " + deadline.toMillis() + "ms"));
    });
    Buffer collected = Buffer.buffer();
    body.handler(piece -> {
      if (collected.length() + piece.length() > maxBytes) {
        body.handler(null);
        request.pause();
        context.vertx().cancelTimer(timer);
        read.tryFail(new BodyTooLargeException(maxBytes));
      } else {
        collected.appendBuffer(piece);
      }
    });
    body.endHandler(v -> {
      context.vertx().cancelTimer(timer);
      read.tryComplete(collected);
    });
    body.resume();
    return read.future();
  }

  /** How much of an error answer to the proxy's own requests is kept to relay: registries' error bodies are small JSON. */
  private static final int OWN_ANSWER_BODY_BYTES = 64 * 1024;
  /** What of the registry's answer to the proxy's own request reaches the client when it becomes the answer. */
  private static final List<String> RELAYED_FROM_OWN_REQUESTS = List.of(
      "Content-Type", "WWW-Authenticate", "Docker-Distribution-API-Version", "Retry-After");

  @Override
  public Future<UpstreamAnswer> askUpstream(HttpMethod method, String uri) {
    // Bounded like any exchange: a registry that stops answering costs the client a 504, not a hang.
    RequestOptions options = new RequestOptions().setMethod(method).setURI(uri)
        .setIdleTimeout(context.config().upstream().idleTimeout().toMillis());
    String authorization = request.getHeader(HttpHeaders.AUTHORIZATION);
    if (authorization != null) {
      options.putHeader(HttpHeaders.AUTHORIZATION, authorization);
    }
    options.putHeader("Via", VIA);
    return context.upstream().request(options)
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

  /** The host and port the client addressed, as a trusted load balancer or the client itself says. */
  private HostAndPort clientAuthority() {
    if (context.config().listen().trustForwardedHeaders()) {
      String forwarded = request.getHeader("x-forwarded-host");
      if (forwarded != null) {
        return HostAndPort.parseAuthority(forwarded.split(",")[0].trim(), -1);
      }
    }
    return request.authority();
  }

  private String clientOrigin() {
    ProxyConfig.Listen listen = context.config().listen();
    String scheme = listen.scheme();
    if (listen.trustForwardedHeaders() && request.getHeader("x-forwarded-proto") != null) {
      scheme = request.getHeader("x-forwarded-proto").split(",")[0].trim();
    }
    HostAndPort authority = clientAuthority();
    String host = authority != null ? authority.toString() : listen.host() + ":" + listen.port();
    return scheme + "://" + host;
  }

  /** The failure's message, and its root cause's where that says more ("PKIX path building failed ..."). */
  private static String describe(Throwable e) {
    String message = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    return root != e && root.getMessage() != null && !message.contains(root.getMessage()) ? message + ": " + root.getMessage() : message;
  }
}
