package dev.quotaproxy.proxy.quota;

import dev.quotaproxy.proxy.oci.ManifestParser;
import dev.quotaproxy.proxy.oci.ParsedManifest;
import dev.quotaproxy.proxy.quota.QuotaStore.Blob;
import dev.quotaproxy.proxy.quota.QuotaStore.Traffic;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * {@code PUT /v2/<name>/manifests/<reference>}: the body (at most 4 MiB) is read and parsed (OCI
 * manifest and index, Docker schema 2 manifest and list; other types count their own bytes only).
 * Its own bytes and every referenced blob absent from a scope are reserved there; over a hard limit
 * the push is refused before the registry sees it. On the registry's 201 the manifest and its
 * references become usage, and the references are recorded for delete accounting. Re-pushing or
 * re-tagging a manifest costs nothing.
 */
final class ManifestPutQuota implements ExchangeQuota {
  private final QuotaEnforcer enforcer;
  private final ExchangeView exchange;
  private final String repository;
  private final String reservationId = "manifest-" + UUID.randomUUID();
  private ParsedManifest manifest;
  private boolean reserved;
  private boolean settled;

  ManifestPutQuota(QuotaEnforcer enforcer, ExchangeView exchange) {
    this.enforcer = enforcer;
    this.exchange = exchange;
    this.repository = exchange.oci().repository();
  }

  @Override
  public Future<Admission> admit() {
    return enforcer.unlessReadOnly(exchange, this::readAndDecide);
  }

  private Future<Admission> readAndDecide() {
    if (exchange.contentLength() > ManifestParser.MAX_MANIFEST_BYTES) {
      return Future.succeededFuture(Admission.refuse(tooLarge()));
    }
    return exchange.readBody(ManifestParser.MAX_MANIFEST_BYTES).compose(this::decide, e -> e instanceof ExchangeView.BodyTooLargeException
        ? Future.succeededFuture(Admission.refuse(tooLarge()))
        : Future.failedFuture(e));
  }

  private Future<Admission> decide(Buffer body) {
    try {
      manifest = ManifestParser.parse(exchange.contentType(), body);
    } catch (ManifestParser.ManifestInvalidException e) {
      return Future.succeededFuture(Admission.refuse(QuotaErrors.manifestInvalid(e.getMessage())));
    }
    List<Blob> charged = new ArrayList<>();
    charged.add(ownBlob());
    charged.addAll(manifest.references());
    return enforcer.reserveThroughContention(() -> enforcer.store.reserveBlobs(repository, reservationId, charged))
        .map(r -> {
          if (!r.granted()) {
            return Admission.refuse(enforcer.storageRefusal(exchange, r.denial()));
          }
          reserved = true;
          return Admission.forwardBody(body);
        })
        .recover(e -> {
          Admission unmetered = enforcer.storeUnreachable(exchange, e);
          return Future.succeededFuture(unmetered.refused() ? unmetered : Admission.forwardBody(body));
        });
  }

  private Blob ownBlob() {
    return manifest.blob();
  }

  private static dev.quotaproxy.proxy.oci.OciError tooLarge() {
    return QuotaErrors.manifestInvalid("manifest is larger than the registry's " + (ManifestParser.MAX_MANIFEST_BYTES >> 20) + " MiB limit");
  }

  @Override
  public Future<List<String>> answered(int status, MultiMap headers) {
    settled = true;
    if (status != 201 || manifest == null) {
      // Refused, failed, or a manifest the proxy never parsed: nothing to charge.
      enforcer.store.release(repository, reservationId, -1);
      return Future.succeededFuture(List.of());
    }
    return enforcer.store.commitManifest(repository, reservationId, ownBlob(), manifest.references(), exchange.user())
        .map(commit -> QuotaErrors.softLimitWarnings(commit.scopes()))
        .recover(e -> enforcer.<List<String>>recordFailure(exchange, "manifest " + manifest.digest(), e).otherwise(List.of()));
  }

  @Override
  public void ended(int status, long bytesIn, long bytesOut) {
    if (!settled && reserved) {
      enforcer.store.release(repository, reservationId, -1);
    }
    enforcer.meter(exchange, new Traffic(bytesIn, 0, status == 201 ? 1 : 0, 0));
  }
}
