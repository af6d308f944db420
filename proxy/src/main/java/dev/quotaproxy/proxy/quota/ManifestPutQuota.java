package dev.quotaproxy.proxy.quota;

import dev.quotaproxy.config.ByteSize;
import dev.quotaproxy.oci.Scopes;
import dev.quotaproxy.oci.Blob;
import dev.quotaproxy.oci.ManifestParser;
import dev.quotaproxy.proxy.route.OciError;
import dev.quotaproxy.oci.ParsedManifest;
import dev.quotaproxy.metering.QuotaStore.SizeConflict;
import dev.quotaproxy.metering.QuotaStore.Traffic;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code PUT /v2/<name>/manifests/<reference>}: the body (at most 4 MiB, within the process's manifest
 * buffer and a deadline) is read, then the head goes to the registry; once the registry asks for the body
 * (it has authenticated the client) the manifest is parsed and decided on. Its own bytes and every
 * referenced blob absent from a scope are reserved there; over a hard limit the push is refused before
 * the registry sees the body. On the registry's 201 the manifest and its references become usage, and the
 * references are recorded for delete accounting. Re-pushing or re-tagging a manifest costs nothing.
 *
 * <p>Sizes are never the client's word: a referenced blob is charged at the size the namespace knows for
 * it (measured when it was uploaded) or, when unknown, at the size the registry reports for it in the
 * repository; a descriptor that says otherwise is refused {@code 400 MANIFEST_INVALID} naming the digest.
 * A reference the registry does not hold in the repository is not charged (the registry refuses such a
 * manifest, or, for a foreign layer, does not store it).
 */
final class ManifestPutQuota implements ExchangeQuota {
  private static final Logger LOG = LoggerFactory.getLogger(ManifestPutQuota.class);

  private final QuotaPolicy policy;
  private final ExchangeView exchange;
  private final String repository;
  /** The reservation and commit intent of this request, under its own id. */
  private final RequestHold hold;
  private Buffer body;
  private long buffered;
  private ParsedManifest manifest;
  /** The references as charged: sizes verified, references the registry does not hold left out. */
  private List<Blob> references = List.of();

  ManifestPutQuota(QuotaPolicy policy, ExchangeView exchange) {
    this.policy = policy;
    this.exchange = exchange;
    this.repository = exchange.oci().repository();
    this.hold = new RequestHold(policy.store, repository);
  }

  @Override
  public boolean guardsBody() {
    return true;
  }

  /** Reads the body, within the buffer budget and the deadline; nothing here depends on any scope. */
  @Override
  public Future<Admission> admit() {
    long length = exchange.contentLength();
    if (length > ManifestParser.MAX_MANIFEST_BYTES) {
      return Future.succeededFuture(Admission.refuse(tooLarge()));
    }
    long budget = length >= 0 ? length : ManifestParser.MAX_MANIFEST_BYTES;
    if (!policy.pushes.tryBuffer(budget)) {
      return Future.succeededFuture(Admission.refuse(QuotaErrors.manifestBufferFull(policy.pushes.manifestBudget())));
    }
    buffered = budget;
    return exchange.readBody(ManifestParser.MAX_MANIFEST_BYTES, policy.guards.manifestBodyTimeout()).compose(read -> {
      body = read;
      return Future.succeededFuture(Admission.forwardBody(read));
    }, e -> {
      if (e instanceof ExchangeView.BodyTooLargeException) {
        return Future.succeededFuture(Admission.refuse(tooLarge()));
      }
      if (e instanceof ExchangeView.BodyTimeoutException) {
        return Future
            .succeededFuture(Admission.refuse(QuotaErrors.bodyTimeout("the manifest " + e.getMessage().replaceFirst("^the body ", ""))));
      }
      return Future.failedFuture(e);
    });
  }

  @Override
  public Future<Admission> decide() {
    return policy.unlessReadOnly(exchange, this::parseAndReserve);
  }

  private Future<Admission> parseAndReserve() {
    try {
      ManifestParser.requireWithinLimit(body.length());
      manifest = ManifestParser.parse(exchange.contentType(), body.getBytes(), policy.guards.maxManifestReferences());
    } catch (ManifestParser.ManifestInvalidException e) {
      return Future.succeededFuture(Admission.refuse(QuotaErrors.manifestInvalid(e.getMessage())));
    }
    return verifiedReferences()
        .compose(verified -> {
          if (verified.conflict() != null) {
            return Future.succeededFuture(Admission.refuse(sizeConflict(verified.conflict())));
          }
          references = verified.references();
          if (hold.settled()) {
            // The exchange ended (its client left) while the references were being sized: nothing to reserve for.
            return Future.succeededFuture(Admission.FORWARD);
          }
          hold.reservationAsked();
          return policy.reserveThroughContention(() -> policy.store.reserveManifest(repository, hold.id(), manifest.blob(), references))
              .map(r -> {
                if (r.conflict() != null) {
                  return Admission.refuse(sizeConflict(r.conflict()));
                }
                if (r.retired()) {
                  throw new IllegalStateException("reservation " + hold.id() + " was released");
                }
                if (r.denial() != null) {
                  return Admission.refuse(policy.storageRefusal(exchange, r.denial()));
                }
                return Admission.FORWARD;
              })
              // Before the body goes: if this proxy dies before charging the 201, another does (RegistryIntents).
              .compose(admission -> admission.refused()
                  ? Future.succeededFuture(admission)
                  : policy.store.intendManifest(repository, hold.id(), manifest.blob(), references).map(v -> {
                    hold.intentRecorded();
                    return admission;
                  }));
        })
        .recover(e -> Future.succeededFuture(policy.storeUnreachable(exchange, e)));
  }

  /** The references with the sizes to charge, or the first whose descriptor contradicts a known size. */
  private record Verified(List<Blob> references, SizeConflict conflict) {}

  /**
   * Each reference at the size the namespace knows for it, or, when it knows none, the size the registry
   * reports for it in this repository; a descriptor size that differs from either is a conflict.
   */
  private Future<Verified> verifiedReferences() {
    List<Blob> claimed = manifest.references();
    if (claimed.isEmpty()) {
      return Future.succeededFuture(new Verified(List.of(), null));
    }
    List<String> digests = claimed.stream().map(Blob::digest).toList();
    return policy.store.sizesOf(Scopes.namespace(repository), digests).compose(known -> {
      List<Future<Long>> sizes = new ArrayList<>(claimed.size());
      for (Blob blob : claimed) {
        long size = known.getOrDefault(blob.digest(), -1L);
        sizes.add(
            size >= 0 ? Future.succeededFuture(size) : exchange.upstreamSize(repository, blob.digest(), manifest.referencesManifests()));
      }
      return Future.all(sizes).map(all -> {
        List<Blob> verified = new ArrayList<>(claimed.size());
        for (int i = 0; i < claimed.size(); i++) {
          Blob blob = claimed.get(i);
          long size = all.resultAt(i);
          if (size < 0) {
            continue;
          }
          if (size != blob.size()) {
            return new Verified(List.of(), new SizeConflict(blob.digest(), size, blob.size()));
          }
          verified.add(new Blob(blob.digest(), size));
        }
        return new Verified(verified, null);
      });
    });
  }

  private static OciError sizeConflict(SizeConflict conflict) {
    return QuotaErrors.manifestInvalid("the manifest lists " + conflict.digest() + " with size " + conflict.claimed()
        + " bytes, but that blob is " + conflict.known() + " bytes (" + ByteSize.format(conflict.known()) + ")");
  }

  private static OciError tooLarge() {
    return QuotaErrors
        .manifestInvalid("manifest is larger than the registry's " + (ManifestParser.MAX_MANIFEST_BYTES >> 20) + " MiB limit");
  }

  @Override
  public Future<Answer> answered(int status, MultiMap headers) {
    if (status != 201 || manifest == null) {
      // Refused, failed, or a manifest the proxy never decided on: nothing to charge.
      hold.release();
      return Future.succeededFuture(Answer.RELAY);
    }
    // The commit releases the reservation whole and retires the id: nothing is left to release.
    hold.settleOnce();
    String named = headers.get("Docker-Content-Digest");
    if (named != null && !named.trim().equals(manifest.digest())) {
      LOG.warn("{}: the registry stored manifest {} for a body whose digest is {}; charged as measured", repository, named.trim(),
          manifest.digest());
    }
    return policy.store.commitManifest(repository, hold.id(), manifest.blob(), references, exchange.user())
        .map(commit -> Answer.relay(QuotaErrors.softLimitWarnings(commit.scopes())))
        .recover(e -> policy.<Answer>recordFailure(exchange, "manifest " + manifest.digest(), e).otherwise(Answer.RELAY));
  }

  @Override
  public void ended(int status, long bytesIn, long bytesOut) {
    // Released, unless answered; left to its intent when the registry may have stored it unanswered.
    hold.ended();
    if (buffered > 0) {
      policy.pushes.unbuffer(buffered);
      buffered = 0;
    }
    body = null;
    if (manifest != null) {
      // Decided on, so the registry had accepted its head: its traffic is the namespace's.
      policy.meter(exchange, new Traffic(bytesIn, 0, status == 201 ? 1 : 0, 0));
    }
  }
}
