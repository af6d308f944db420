package dev.quotaproxy.proxy.quota;

import dev.quotaproxy.proxy.oci.OciError;
import dev.quotaproxy.proxy.oci.OciOperation;
import dev.quotaproxy.proxy.quota.QuotaStore.Blob;
import dev.quotaproxy.proxy.quota.QuotaStore.Commit;
import dev.quotaproxy.proxy.quota.QuotaStore.Traffic;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.ReadStream;
import java.util.List;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * Blob bytes going up: a chunk ({@code PATCH}), the closing {@code PUT ?digest=} of a session (with or
 * without a last chunk) and a monolithic {@code POST ?digest=}.
 *
 * <ul>
 *   <li>With {@code Content-Length}, the whole length is reserved in every scope before a byte is
 *       forwarded (and before 100-continue); a reservation that does not fit is a 403.
 *   <li>Chunked, bytes are reserved in increments as they stream, and the request is cut off with a
 *       403 when an increment does not fit; unused reservation is given back when the body ends.
 *   <li>Reservations belong to the upload session (its id) and accumulate over its chunks: bytes in
 *       flight count against the limits. On the registry's 201 for the closing request, the blob
 *       becomes usage where it was absent, with the session's total as its size, and the session's
 *       reservation is released. A request the registry did not accept gives back what it reserved.
 * </ul>
 */
final class BlobUploadQuota implements ExchangeQuota {
  private final QuotaEnforcer enforcer;
  private final ExchangeView exchange;
  private final String repository;
  private final String reservationId;
  private long reservedHere;
  private ReservingReadStream reserving;
  private boolean settled;

  BlobUploadQuota(QuotaEnforcer enforcer, ExchangeView exchange) {
    this.enforcer = enforcer;
    this.exchange = exchange;
    this.repository = exchange.oci().repository();
    // A monolithic POST has no session yet: its reservation lives for this request only.
    this.reservationId = exchange.oci().uploadId() != null ? exchange.oci().uploadId() : "post-" + UUID.randomUUID();
  }

  @Override
  public Future<Admission> admit() {
    return enforcer.unlessReadOnly(exchange, this::decide);
  }

  private Future<Admission> decide() {
    long length = exchange.contentLength();
    if (exchange.chunked() || length <= 0) {
      return Future.succeededFuture(Admission.FORWARD);
    }
    return enforcer.reserveThroughContention(() -> enforcer.store.reserveBytes(repository, reservationId, null, length, length))
        .map(r -> {
          if (!r.granted()) {
            return Admission.refuse(enforcer.storageRefusal(exchange, r.denial()));
          }
          reservedHere = r.grantedBytes();
          return Admission.FORWARD;
        })
        .recover(e -> Future.succeededFuture(enforcer.storeUnreachable(exchange, e)));
  }

  @Override
  public ReadStream<Buffer> body(ReadStream<Buffer> body, Consumer<OciError> refuse) {
    if (!exchange.chunked()) {
      return body;
    }
    reserving = new ReservingReadStream(body, enforcer.chunkReservation,
        (min, max) -> enforcer.reserveThroughContention(() -> enforcer.store.reserveBytes(repository, reservationId, null, min, max)),
        denied -> {
          // The client is cut off mid-chunk and will give the session up: free all it held.
          settled = true;
          enforcer.store.release(repository, reservationId, -1);
          refuse.accept(enforcer.storageRefusal(exchange, denied.denial()));
        },
        failure -> {
          if (enforcer.failOpen) {
            reserving.continueUnmetered();
          } else {
            enforcer.storeUnreachable(exchange, failure);
            refuse.accept(QuotaErrors.storeUnavailable());
          }
        });
    reserving.onEnd(() -> {
      // The whole body is in: what was reserved ahead of it is not needed.
      long unused = reserving.reserved() - reserving.forwarded();
      if (unused > 0) {
        enforcer.store.release(repository, reservationId, unused);
      }
    });
    return reserving;
  }

  @Override
  public Future<List<String>> answered(int status, MultiMap headers) {
    OciOperation operation = exchange.oci().operation();
    String digest = exchange.oci().digest();
    if (operation == OciOperation.UPLOAD_CHUNK && status / 100 == 2) {
      // A chunk was stored: its bytes stay reserved for the session until it closes or expires.
      settled = true;
      return Future.succeededFuture(List.of());
    }
    if (operation == OciOperation.UPLOAD_CHUNK || status != 201 || digest == null) {
      giveBack();
      return Future.succeededFuture(List.of());
    }
    settled = true;
    return enforcer.store.commitBlob(repository, reservationId, null, new Blob(digest, -1), exchange.user())
        .compose(commit -> commit.sizeKnown() ? Future.succeededFuture(commit) : commitWithUpstreamSize(digest))
        .map(commit -> QuotaErrors.softLimitWarnings(commit.scopes()))
        .recover(e -> enforcer.<List<String>>recordFailure(exchange, "blob " + digest, e).otherwise(List.of()));
  }

  /** The session's reservation expired before it closed: the registry knows the size. */
  private Future<Commit> commitWithUpstreamSize(String digest) {
    return exchange.upstreamBlobSize(repository, digest)
        .compose(size -> enforcer.store.commitBlob(repository, reservationId, null, new Blob(digest, size), exchange.user()));
  }

  @Override
  public void ended(int status, long bytesIn, long bytesOut) {
    if (!settled) {
      giveBack();
    }
    enforcer.meter(exchange, new Traffic(bytesIn, 0, 0, 0));
  }

  /** This request's bytes never became the registry's: release them, and only them. */
  private void giveBack() {
    if (settled) {
      return;
    }
    settled = true;
    if (exchange.oci().operation() == OciOperation.UPLOAD_MONOLITHIC) {
      // Its reservation was this request's alone.
      enforcer.store.release(repository, reservationId, -1);
      return;
    }
    long held = reserving == null ? reservedHere : reserving.ended() ? reserving.forwarded() : reserving.reserved();
    if (held > 0) {
      enforcer.store.release(repository, reservationId, held);
    }
  }
}
