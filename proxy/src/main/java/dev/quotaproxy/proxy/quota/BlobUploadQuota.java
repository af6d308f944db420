package dev.quotaproxy.proxy.quota;

import dev.quotaproxy.oci.Blob;
import dev.quotaproxy.proxy.route.OciError;
import dev.quotaproxy.oci.OciNames;
import dev.quotaproxy.proxy.route.OciOperation;
import dev.quotaproxy.metering.QuotaStore.Reservation;
import dev.quotaproxy.metering.QuotaStore.Traffic;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.streams.ReadStream;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Blob bytes going up: a chunk ({@code PATCH}), the closing {@code PUT ?digest=} of a session (with or
 * without a last chunk) and a monolithic {@code POST ?digest=}. The whole reservation lifecycle of an
 * upload is here, from reserve to commit or release, so no path can forget an end.
 *
 * <ul>
 *   <li>Decided once the registry asks for the body (after its own authentication): with
 *       {@code Content-Length} the whole length is reserved in every scope before a byte moves, and a
 *       reservation that does not fit is a 403; chunked, bytes are reserved in increments as they stream
 *       and the request is cut off with a 403 (saying how much of the upload had arrived) when one does
 *       not fit.
 *   <li>Each request reserves under its own id. When a chunk is answered {@code 2xx}, its bytes move into
 *       the session's reservation, which holds what the registry stores for the session until it is
 *       committed, cancelled or expires. A chunk refused, cut off or failed gives back its own bytes only
 *       (never the session's) and marks the session dirty if some of them had gone upstream.
 *   <li>A closing {@code PUT} of a session that is dirty or unknown to the store first asks the registry
 *       how much it holds (the {@code Range} of {@code GET} on the upload URL) and reserves what no
 *       reservation covers, refused over the limit: no commit is charged past a hard limit unchecked.
 *   <li>On the registry's {@code 201}, the blob is charged under the digest the registry names
 *       ({@code Docker-Content-Digest}) at the size the registry reports for it ({@code HEAD}), never a
 *       figure the client gave; the request's and the session's reservations are released.
 * </ul>
 */
final class BlobUploadQuota implements ExchangeQuota {
  private static final Logger LOG = LoggerFactory.getLogger(BlobUploadQuota.class);

  private final QuotaPolicy policy;
  private final ExchangeView exchange;
  private final String repository;
  private final OciOperation operation;
  /** This request's own id, its commit intent, and the booking of its outcome (commit, settle or release), once. */
  private final RequestHold hold;
  /** The store's id of the upload session; null for a monolithic POST, which has none yet. */
  private final String sessionId;
  /** What the session's reservation held when this request was admitted (a closing PUT asks). */
  private long sessionHeld;
  /** What the registry held of the session before this request: from the store when clean, else asked; -1 unknown. */
  private long storedBefore = -1;
  private long reservedHere;
  private ReservingReadStream reserving;
  /** The refusal of a chunk ended early at the limit: the client gets it once the registry has closed the chunk. */
  private OciError cutOff;
  /** The registry asked for the body (it accepted the request's head): only then is the request's traffic the namespace's. */
  private boolean decided;

  BlobUploadQuota(QuotaPolicy policy, ExchangeView exchange) {
    this.policy = policy;
    this.exchange = exchange;
    this.repository = exchange.oci().repository();
    this.operation = exchange.oci().operation();
    this.sessionId = QuotaPolicy.sessionId(exchange.oci().uploadId());
    this.hold = new RequestHold(policy.store, repository);
  }

  @Override
  public boolean guardsBody() {
    return true;
  }

  /** A closing PUT learns what the registry holds of its session, from the store when it saw every byte, else from the registry. */
  @Override
  public Future<Admission> admit() {
    if (operation != OciOperation.UPLOAD_COMPLETE) {
      return Future.succeededFuture(Admission.FORWARD);
    }
    return policy.store.session(repository, sessionId).compose(session -> {
      sessionHeld = session.held();
      if (session.recorded() && !session.dirty()) {
        storedBefore = session.held();
        return Future.succeededFuture(Admission.FORWARD);
      }
      return exchange.askUpstream(HttpMethod.GET, exchange.uri()).compose(status -> {
        if (!status.succeeded()) {
          // The registry refuses this session to this client (unknown, expired, not authorised): its answer is the answer.
          return Future.succeededFuture(Admission.answerWith(status));
        }
        storedBefore = UploadRange.storedBytes(status.header("Range"));
        return Future.succeededFuture(Admission.FORWARD);
      }, failure -> Future.succeededFuture(Admission.refuse(OciError.badGateway("the upstream registry failed to answer"))));
    }, failure -> Future.succeededFuture(policy.storeUnreachable(exchange, failure)));
  }

  @Override
  public Future<Admission> decide() {
    decided = true;
    return policy.unlessReadOnly(exchange, () -> reserve().compose(this::intendingCommit));
  }

  /**
   * A request that may make the registry store a blob (a closing PUT, a monolithic upload) records that
   * before its body goes: a proxy that dies before charging the registry's 201 leaves the record, and
   * another finishes the commit (CommitIntents).
   */
  private Future<Admission> intendingCommit(Admission admission) {
    String digest = exchange.oci().digest();
    if (admission.refused() || !commits() || digest == null || !OciNames.isDigest(digest)) {
      return Future.succeededFuture(admission);
    }
    return policy.store.intendCommit(repository, hold.id(), sessionId, digest)
        .map(v -> {
          hold.intentRecorded();
          return admission;
        })
        .recover(e -> Future.succeededFuture(policy.storeUnreachable(exchange, e)));
  }

  /** Whether this request may make the registry store a blob: a closing PUT or a monolithic upload. */
  private boolean commits() {
    return operation == OciOperation.UPLOAD_COMPLETE || operation == OciOperation.UPLOAD_MONOLITHIC;
  }

  /** Bytes the registry holds of the session that no reservation covers: reserved before this request's own. */
  private long uncovered() {
    return storedBefore > sessionHeld ? storedBefore - sessionHeld : 0;
  }

  private Future<Admission> reserve() {
    long need = uncovered() + (exchange.chunked() ? 0 : Math.max(0, exchange.contentLength()));
    if (need == 0 && !commits()) {
      return Future.succeededFuture(Admission.FORWARD);
    }
    // A commit with no bytes to reserve (an empty blob, the empty close of a session holding its bytes) still
    // asks: were its repository empty, the commit would make it count, so it must hold (or be refused) its slot.
    return policy.reserveThroughContention(() -> reserveBytes(need, need))
        .map(r -> {
          if (!r.granted()) {
            return Admission.refuse(policy.storageRefusal(exchange, r.denial()));
          }
          reservedHere = r.grantedBytes();
          return Admission.FORWARD;
        })
        .recover(e -> Future.succeededFuture(policy.storeUnreachable(exchange, e)));
  }

  /** A reservation for this request; one that arrives retired (released meanwhile after a timeout) counts as a store failure. */
  private Future<Reservation> reserveBytes(long min, long max) {
    return policy.store.reserveBytes(repository, hold.id(), sessionId, min, max)
        .compose(r -> r.retired()
            ? Future.failedFuture(new IllegalStateException("reservation " + hold.id() + " was released"))
            : Future.succeededFuture(r));
  }

  @Override
  public ReadStream<Buffer> body(ReadStream<Buffer> body, Consumer<OciError> refuse) {
    if (!exchange.chunked()) {
      return body;
    }
    reserving = new ReservingReadStream(body, policy.chunkReservation,
        (min, max) -> policy.reserveThroughContention(() -> reserveBytes(min, max)),
        denied -> {
          long sessionPart = Math.max(0, denied.denial().heldByRequest() - reserving.reserved() - reservedHere);
          long arrived = sessionPart + reserving.forwarded() + reserving.pendingBytes();
          OciError refusal = policy.uploadCutOff(exchange, denied.denial(), arrived);
          if (operation == OciOperation.UPLOAD_CHUNK) {
            // The chunk is closed where it stands, so the registry answers with a valid session, which
            // answered() cancels: nothing of the refused upload stays on the registry's disk.
            cutOff = refusal;
            reserving.endEarly();
          } else {
            // A closing PUT must never be closed early: the registry would commit what it has.
            refuse.accept(refusal);
          }
        },
        failure -> {
          if (policy.failOpen) {
            reserving.continueUnmetered();
          } else {
            policy.storeUnreachable(exchange, failure);
            refuse.accept(QuotaErrors.storeUnavailable());
          }
        });
    return reserving;
  }

  @Override
  public Future<Answer> answered(int status, MultiMap headers) {
    if (operation == OciOperation.UPLOAD_MONOLITHIC && status == 202) {
      // The registry opened a session instead of taking the blob (distribution ignores ?digest= on POST).
      notTaken(0);
      return new UploadStartQuota(policy, exchange).sessionOpened(status, headers);
    }
    if (!decided) {
      // Answered before the registry asked for the body (a 401, an unknown session): nothing was reserved
      // or sent, and nothing is written for a request the registry did not take.
      hold.settleOnce();
      return Future.succeededFuture(Answer.RELAY);
    }
    if (operation == OciOperation.UPLOAD_CHUNK) {
      long sent = exchange.bodyBytesSentUpstream();
      if (cutOff != null || exchange.clientGone()) {
        return chunkEndedEarly(status, headers, sent);
      }
      // A chunk answered 2xx was stored whole: its bytes stay reserved for the session. The answer waits
      // for the books, so the client's next request on the session finds them settled.
      Future<Void> booked = status / 100 == 2 ? settle(sent, false) : notTaken(sent);
      return booked.map(Answer.RELAY).otherwise(Answer.RELAY);
    }
    if (status != 201) {
      Future<Void> booked = status >= 500 && operation == OciOperation.UPLOAD_COMPLETE && storedBefore >= 0
          ? keepWhatTheRegistryHolds()
          : notTaken(exchange.bodyBytesSentUpstream());
      return booked.map(Answer.RELAY).otherwise(Answer.RELAY);
    }
    // Booked here: the commit releases the request's and the session's reservations whole and retires the
    // request's id; a blob that cannot be charged releases the request's.
    hold.settleOnce();
    String digest = committedDigest(headers);
    if (digest == null) {
      LOG.error("{} {}: the registry accepted a blob without naming a valid digest; not charged, usage drifts until reconciled",
          operation, repository);
      release(hold.id());
      return Future.succeededFuture(Answer.RELAY);
    }
    long measured = Math.max(storedBefore, sessionHeld) + exchange.bodyBytesSentUpstream();
    return exchange.upstreamSize(repository, digest, false)
        .compose(size -> policy.store.commitBlob(repository, hold.id(), sessionId, new Blob(digest, size >= 0 ? size : measured),
            exchange.user()))
        .map(commit -> Answer.relay(QuotaErrors.softLimitWarnings(commit.scopes())))
        .recover(e -> policy.<Answer>recordFailure(exchange, "blob " + digest, e).otherwise(Answer.RELAY));
  }

  /**
   * A chunk closed early, at the limit or because its client went away: the registry's session is
   * cancelled with the client's credentials, so the refused upload leaves nothing on its disk, and what
   * the request and the session held is released. If the cancel fails, what the registry keeps stays
   * reserved for the session until it expires.
   */
  private Future<Answer> chunkEndedEarly(int status, MultiMap headers, long sent) {
    Answer answer = cutOff != null ? Answer.refuse(cutOff) : Answer.RELAY;
    String location = headers.get("Location");
    if (status / 100 != 2 || location == null) {
      notTaken(sent);
      return Future.succeededFuture(answer);
    }
    return exchange.askUpstream(HttpMethod.DELETE, UpstreamLocations.pathAndQuery(location))
        .map(cancelled -> cancelled.succeeded() || cancelled.status() == 404)
        .otherwise(false)
        .map(cancelled -> {
          if (cancelled) {
            hold.settleOnce();
            release(hold.id());
            release(sessionId);
          } else {
            settle(sent, false);
          }
          return answer;
        });
  }

  /**
   * The registry failed a closing PUT (its disk full, say): it is asked what it still holds of the
   * session, and only that stays reserved for it; a session it no longer has holds nothing. Without an
   * answer, what went upstream stays reserved (dirty), as for any request the registry did not take.
   */
  private Future<Void> keepWhatTheRegistryHolds() {
    long sent = exchange.bodyBytesSentUpstream();
    return exchange.askUpstream(HttpMethod.GET, exchange.uri()).compose(status -> {
      if (status.status() == 404) {
        hold.settleOnce();
        release(hold.id());
        release(sessionId);
        return Future.succeededFuture();
      }
      if (!status.succeeded()) {
        return notTaken(sent);
      }
      long held = UploadRange.storedBytes(status.header("Range"));
      return settle(Math.max(0, held - storedBefore), false);
    }, failure -> notTaken(sent));
  }

  /** The digest the registry stored the blob under: its {@code Docker-Content-Digest}, else the one asked for. */
  private String committedDigest(MultiMap headers) {
    String named = headers.get("Docker-Content-Digest");
    if (named != null && OciNames.isDigest(named.trim())) {
      return named.trim();
    }
    String asked = exchange.oci().digest();
    return asked != null && OciNames.isDigest(asked) ? asked : null;
  }

  @Override
  public void ended(int status, long bytesIn, long bytesOut) {
    policy.store.requestEnded(hold.id());
    if (!decided) {
      // Never decided on: nothing reserved, nothing sent, nothing to write.
      return;
    }
    // No answer to a request that may have made the registry store the blob: left to its intent (see RequestHold).
    if (!hold.leaveToIntent()) {
      // Ended with no answer from the registry (cut off, reset, gone): what went upstream may sit in a
      // session nobody can resume or cancel now.
      notTaken(exchange.bodyBytesSentUpstream());
    }
    policy.meter(exchange, new Traffic(bytesIn, 0, 0, 0));
  }

  /**
   * The registry did not take this request's bytes into a blob or a stored chunk. What went upstream may
   * still sit in its session (distribution keeps the body of a close it refused, and what arrived of a
   * chunk cut short), so it stays reserved for the session, marked dirty, until the session ends or
   * expires; the rest is released. Without a session, the request's reservation just goes.
   */
  private Future<Void> notTaken(long wentUpstream) {
    if (hold.settled() || !decided) {
      return Future.succeededFuture();
    }
    if (sessionId == null) {
      hold.settleOnce();
      release(hold.id());
      return Future.succeededFuture();
    }
    return settle(wentUpstream, wentUpstream > 0);
  }

  private Future<Void> settle(long storedBytes, boolean dirty) {
    if (!hold.settleOnce()) {
      return Future.succeededFuture();
    }
    return policy.store.settle(repository, hold.id(), sessionId, storedBytes, dirty)
        .onFailure(e -> LOG.warn("{}: reservation {} not settled, it expires with its TTL: {}", repository, hold.id(), e.toString()));
  }

  private void release(String id) {
    policy.store.release(repository, id, -1)
        .onFailure(e -> LOG.warn("{}: reservation {} not released, it expires with its TTL: {}", repository, id, e.toString()));
  }
}
