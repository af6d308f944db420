package dev.quotaproxy.proxy.http;

import static dev.quotaproxy.proxy.http.UpstreamFailures.describe;

import dev.quotaproxy.proxy.http.splice.SpliceRelay;
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
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.net.SocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
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
 *
 * <p>This class is the state machine; around it, the client's body ({@link ClientBody}), the header
 * policy both ways ({@link ForwardedHeaders}, {@link RelayedHeaders}), what an upstream failure tells
 * the client ({@link UpstreamFailures}), the proxy's own requests ({@link UpstreamRegistry}) and the
 * spliced relay ({@link SpliceRelay}).
 *
 * <p>Over 350 lines, and kept whole: every step (admit, the guarded-body handshake, forward, relay, abort,
 * finish) reads and moves the one set of fields below (what was admitted, sent, answered, replied), and
 * the order of those moves is what keeps a charge and the bytes in step. Split across classes, each step
 * would reach into the others' state; here they read top to bottom in the order a request lives them.
 */
public final class ProxyExchange implements ExchangeView {
  private static final Logger LOG = LoggerFactory.getLogger(ProxyExchange.class);
  /** Most an answer given before the request body was taken may carry: such answers are errors, and small. */
  private static final int EARLY_ANSWER_BYTES = 1024 * 1024;

  private final ProxyContext context;
  private final HttpServerRequest request;
  private final HttpServerResponse response;
  private final OciRequest oci;
  private final String path;
  private final RequestTarget target;
  private final long startNanos = System.nanoTime();
  private final IdleWatchdog watchdog;
  private final ClientBody body;
  private final String user;
  private ExchangeQuota quota = ExchangeQuota.NONE;

  /** What admission decided: forward as is, with a body read already, or to another URI. */
  private Admission admission = Admission.FORWARD;
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

  private HttpClientRequest upstreamRequest;
  private HttpClientResponse upstreamResponse;
  /** The answer's splice relay when it may be spliced (see {@link #armSplice}); null otherwise. */
  private SpliceRelay splice;
  private boolean requestBodyDone;
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
    this.body = new ClientBody(context.vertx(), request, watchdog, context.config().quota().guards().bodyFirstByteTimeout().toMillis(),
        this::noFirstByte);
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
    guarded = quota.guardsBody() && body.present();
    if (guarded && !body.expectsContinue()) {
      // A head alone asks nothing of the quota store or the registry: a client that sends nothing after
      // it holds no reservation and no upstream connection, only its own until the deadline.
      body.startFirstByteDeadline();
      body.takeFirstPiece(this::admit);
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
      if (body.present()) {
        // Answered here and not forwarded: the decision to take the body is the proxy's.
        body.sendContinueIfExpected();
      }
      forward(decided.uri() != null ? decided.uri() : admission.uri());
    });
  }

  private void refuse(OciError refusal) {
    refuse(refusal, "refused " + refusal.code());
  }

  /** The proxy answers with a refusal of its own, counted as one, and the registry's request, if any, is reset. */
  private void refuse(OciError refusal, String outcome) {
    context.meters().rejected(oci.operation(), RefusalReason.of(refusal));
    reply(refusal, outcome);
    resetUpstream();
  }

  /** The body's first byte did not come within its deadline: the request is cut off holding nothing. */
  private void noFirstByte(long millis) {
    if (!finished) {
      refuse(QuotaErrors.bodyTimeout("the request body did not start within " + millis + "ms"), "aborted: no body within " + millis + "ms");
    }
  }

  /**
   * Refuses, before any quota rule runs or a byte goes upstream, a request the registry might execute
   * otherwise than it was classified (see {@link RequestScreen}). What passes is forwarded with its raw
   * path and query: the screen has made sure they mean to the registry what they meant here.
   */
  private boolean refusedByScreen() {
    Optional<OciError> refusal = RequestScreen.refusal(request.method().name(), target, oci,
        request.headers().getAll(HttpHeaders.CONTENT_TYPE), body.present());
    if (refusal.isEmpty()) {
      return false;
    }
    refuse(refusal.get());
    return true;
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
      } else {
        declareClientBody();
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
    context.registry().readRefusal(oci.repository(), request.getHeader(HttpHeaders.AUTHORIZATION)).onComplete(probe -> {
      if (finished || upstreamResponse != null || upstreamContinued) {
        return;
      }
      if (probe.result() != null) {
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
    stopContinueTimer();
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
    if (body.expectsContinue() && body.bytes() == 0) {
      // The client waited for our 100: its deadline for the first byte starts now.
      body.startFirstByteDeadline();
    }
    body.sendContinueIfExpected();
    pipeBody();
  }

  private void pipeBody() {
    sentUpstream = new MeteredReadStream(quota.body(body.stream(), this::refuseMidStream), () -> {});
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
        .setHeaders(context.forwarded().toUpstream(request.headers(), request.authority(), peerAddress()));
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
      if (!body.present()) {
        requestBodyDone = true;
        armSplice();
        upstreamRequest.end();
        return;
      }
      declareClientBody();
      pipeBody();
    });
  }

  /** The body goes upstream as the client sends it: chunked, or with the client's length. */
  private void declareClientBody() {
    if (body.chunked()) {
      upstreamRequest.setChunked(true);
    } else {
      upstreamRequest.putHeader(HttpHeaders.CONTENT_LENGTH, request.getHeader(HttpHeaders.CONTENT_LENGTH));
    }
  }

  /** A blob download may skip the JVM (see {@link SpliceRelay}); the gate decides once it sees the answer's head. */
  private void armSplice() {
    if (!context.config().zeroCopy() || request.method() != HttpMethod.GET || oci.operation() != OciOperation.BLOB_GET
        || request.version() == HttpVersion.HTTP_2) {
      return;
    }
    splice = SpliceRelay.arm(upstreamRequest.connection(), request.connection());
  }

  /** A quota rule stopped a body part-way (a chunked upload over the limit): refuse, never forward the rest. */
  private void refuseMidStream(OciError refusal) {
    if (!finished) {
      refuse(refusal, "refused " + refusal.code() + " mid-body");
    }
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
    Buffer whole = Buffer.buffer();
    upstream.handler(piece -> {
      if (whole.length() + piece.length() > EARLY_ANSWER_BYTES) {
        upstream.handler(null);
        read.tryFail(new IllegalStateException("an answer before the body of over " + EARLY_ANSWER_BYTES + " bytes"));
      } else {
        whole.appendBuffer(piece);
      }
    });
    upstream.exceptionHandler(read::tryFail);
    upstream.endHandler(v -> read.tryComplete(whole));
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
    stopContinueTimer();
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
    String clientOrigin = context.forwarded().clientOrigin(request.headers(), request.authority());
    context.relayed().toClient(upstream.headers(), headers, clientOrigin, warnings);
    if (RelayedHeaders.chunked(request.method(), upstream.statusCode(), headers)) {
      response.setChunked(true);
    }
    if (!requestBodyDone) {
      // The registry answered before taking the whole body: the rest of it must not be read as a next request.
      headers.set(HttpHeaders.CONNECTION, "close");
    }
    if (splice != null && splice.holding()) {
      relaySpliced(upstream);
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
        body.dropThenClose();
      }
    });
  }

  /**
   * A body the gate held goes to the client spliced. The upstream connection is closed afterwards: its
   * HTTP decoder never saw the body end, so it cannot carry another exchange.
   */
  private void relaySpliced(HttpClientResponse upstream) {
    // The reset below surfaces here; the exchange is over by then.
    upstream.exceptionHandler(e -> LOG.debug("{} {}: upstream after splice: {}", request.method(), path, e.toString()));
    splice.relay(response, () -> finished, watchdog::touch).onComplete(done -> {
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

  /**
   * Answers for an upstream that could not be used. The client is told what kind of failure it was;
   * where the registry lives and the low-level cause go only to the log.
   */
  private void upstreamFailed(Throwable cause) {
    if (finished) {
      return;
    }
    OciError error = UpstreamFailures.answerFor(cause, context.config().upstream().connectTimeout().toMillis());
    LOG.warn("{} {}: {} ({}: {})", request.method(), path, error.message(), context.config().upstream().origin(), describe(cause));
    reply(error, "upstream error");
    resetUpstream();
  }

  private void onIdle() {
    if (finished) {
      return;
    }
    long timeoutMillis = context.config().upstream().idleTimeout().toMillis();
    if (upstreamResponse == null && requestBodyDone) {
      OciError timeout = UpstreamFailures.noAnswerWithin(timeoutMillis);
      LOG.warn("{} {}: {} ({})", request.method(), path, timeout.message(), context.config().upstream().origin());
      reply(timeout, "upstream timeout");
      resetUpstream();
    } else {
      abort(upstreamResponse == null ? "client sent nothing for " + timeoutMillis + "ms" : "transfer stalled for " + timeoutMillis + "ms");
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
    reply(error.status(), RelayedHeaders.ofError(error), Buffer.buffer(error.body()), outcome);
  }

  /** Answers with what the registry answered to the proxy's own request for this one (an upload's status, say). */
  private void answerWith(UpstreamAnswer answer) {
    reply(answer.status(), RelayedHeaders.ofOwnRequest(answer.headers()), answer.body(), "answered by the registry");
  }

  /** The proxy's own answer, in place of the registry's; a request body still coming is read and dropped, then the connection closes. */
  private void reply(int status, MultiMap headers, Buffer content, String outcome) {
    replied = true;
    if (!response.headWritten() && !response.closed()) {
      response.setStatusCode(status);
      response.headers().addAll(headers);
      boolean unreadBody = body.present() && !request.isEnded();
      if (unreadBody) {
        response.putHeader(HttpHeaders.CONNECTION, "close");
      }
      response.end(content).onComplete(v -> {
        if (unreadBody) {
          body.dropThenClose();
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
    stopContinueTimer();
    body.stopFirstByteDeadline();
    long nanos = System.nanoTime() - startNanos;
    long millis = nanos / 1_000_000;
    int status = response.headWritten() ? response.getStatusCode() : 0;
    long splicedBytes = splice == null ? 0 : splice.splicedBytes();
    long bytesOut = response.bytesWritten() + splicedBytes;
    quota.ended(status, body.bytes(), bytesOut);
    context.meters().record(oci.operation(), status, Outcome.of(outcome), body.bytes(), bytesOut, nanos);
    if (splicedBytes > 0) {
      context.meters().spliced(splicedBytes);
    }
    context.accessLog().write(oci, request.method().name(), path, user, status, body.bytes(), bytesOut, millis, outcome);
  }

  private void stopContinueTimer() {
    if (continueTimer != -1) {
      context.vertx().cancelTimer(continueTimer);
      continueTimer = -1;
    }
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
    return body.contentLength();
  }

  @Override
  public boolean chunked() {
    return body.chunked();
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

  /** The client's address, as the header policy has it (see {@link ForwardedHeaders#clientAddress}). */
  @Override
  public String clientAddress() {
    SocketAddress peer = request.remoteAddress();
    return context.forwarded().clientAddress(request.headers(), peer == null ? "" : peer.hostAddress());
  }

  private String peerAddress() {
    return request.remoteAddress() == null ? null : request.remoteAddress().hostAddress();
  }

  @Override
  public Future<Buffer> readBody(int maxBytes, Duration deadline) {
    return body.readWhole(maxBytes, deadline);
  }

  @Override
  public Future<UpstreamAnswer> askUpstream(HttpMethod method, String uri) {
    return context.registry().ask(method, uri, request.getHeader(HttpHeaders.AUTHORIZATION));
  }
}
