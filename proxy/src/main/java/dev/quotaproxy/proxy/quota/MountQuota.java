package dev.quotaproxy.proxy.quota;

import dev.quotaproxy.ledger.Scopes;
import dev.quotaproxy.proxy.oci.OciNames;
import dev.quotaproxy.proxy.quota.QuotaStore.Blob;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import java.util.List;
import java.util.UUID;

/**
 * {@code POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<repo>}: free when the blob is already
 * in every scope of the path; otherwise its size (from the namespace's digest index, the source's,
 * or a HEAD on the source repository) is reserved where it is absent, and a mount that does not fit
 * is refused. The registry's 201 commits the blob; its 202 (it opened a normal upload instead)
 * releases. When the size cannot be learned, the proxy asks the registry for a normal upload
 * session instead of a mount, which the spec allows a registry to do, so the bytes are counted as
 * they come.
 */
final class MountQuota implements ExchangeQuota {
  private final QuotaEnforcer enforcer;
  private final ExchangeView exchange;
  private final String repository;
  private final String digest;
  private final String reservationId = "mount-" + UUID.randomUUID();
  private long size = -1;
  private boolean settled;

  MountQuota(QuotaEnforcer enforcer, ExchangeView exchange) {
    this.enforcer = enforcer;
    this.exchange = exchange;
    this.repository = exchange.oci().repository();
    this.digest = exchange.oci().digest();
  }

  @Override
  public Future<Admission> admit() {
    return enforcer.unlessReadOnly(exchange, this::decide);
  }

  private Future<Admission> decide() {
    if (!OciNames.isDigest(digest)) {
      // Not a digest: the registry refuses it (DIGEST_INVALID) and nothing can be mounted.
      return Future.succeededFuture(Admission.FORWARD);
    }
    return blobSize()
        .compose(known -> {
          size = known;
          if (known < 0) {
            return new UploadStartQuota(enforcer, exchange).admit()
                .map(start -> start.refused() ? start : Admission.forwardTo(withoutMount(exchange.uri())));
          }
          return enforcer.reserveThroughContention(() -> enforcer.store.reserveBlobs(repository, reservationId, List.of(new Blob(digest, known))))
              .map(r -> r.granted() ? Admission.FORWARD : Admission.refuse(enforcer.storageRefusal(exchange, r.denial())));
        })
        .recover(e -> Future.succeededFuture(enforcer.storeUnreachable(exchange, e)));
  }

  private Future<Long> blobSize() {
    String from = exchange.oci().mountFrom();
    return enforcer.store.sizeOf(Scopes.namespace(repository), digest)
        .compose(s -> s >= 0 || from == null ? Future.succeededFuture(s) : enforcer.store.sizeOf(Scopes.namespace(from), digest))
        .compose(s -> s >= 0 || from == null ? Future.succeededFuture(s) : exchange.upstreamBlobSize(from, digest));
  }

  @Override
  public Future<List<String>> answered(int status, MultiMap headers) {
    settled = true;
    if (status != 201 || size < 0 || !OciNames.isDigest(digest)) {
      enforcer.store.release(repository, reservationId, -1);
      return Future.succeededFuture(List.of());
    }
    return enforcer.store.commitBlob(repository, reservationId, null, new Blob(digest, size), exchange.user())
        .map(commit -> QuotaErrors.softLimitWarnings(commit.scopes()))
        .recover(e -> enforcer.<List<String>>recordFailure(exchange, "mounted blob " + digest, e).otherwise(List.of()));
  }

  @Override
  public void ended(int status, long bytesIn, long bytesOut) {
    if (!settled && size >= 0) {
      enforcer.store.release(repository, reservationId, -1);
    }
  }

  /** The same upload start without {@code mount} and {@code from}: the registry then opens a session. */
  static String withoutMount(String uri) {
    int question = uri.indexOf('?');
    if (question < 0) {
      return uri;
    }
    StringBuilder kept = new StringBuilder();
    for (String parameter : uri.substring(question + 1).split("&")) {
      String name = parameter.contains("=") ? parameter.substring(0, parameter.indexOf('=')) : parameter;
      if (!name.equals("mount") && !name.equals("from") && !parameter.isEmpty()) {
        kept.append(kept.length() == 0 ? "" : "&").append(parameter);
      }
    }
    return uri.substring(0, question) + (kept.length() == 0 ? "" : "?" + kept);
  }
}
