package dev.quotaproxy.proxy.quota;

import dev.quotaproxy.oci.Scopes;
import dev.quotaproxy.oci.Blob;
import dev.quotaproxy.oci.OciNames;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<repo>}: free when the blob is already in every
 * scope of the path; otherwise its size (from the namespace's digest index, the source's, or a HEAD on the
 * source repository with the client's credentials) is reserved where it is absent, the registry's 201
 * commits it and anything else releases.
 *
 * <p>A mount is never refused for quota. When its size cannot be learned, or it does not fit, the proxy
 * asks the registry for a plain upload session instead, as the spec lets a registry answer any mount: the
 * client gets a 202 exactly as for a digest nobody holds, and uploads the bytes, which are then counted
 * and refused like any upload. So the answer never tells whether, or how large, a blob is in the
 * namespace the caller named as its source. (The size is reserved before the registry has authenticated
 * the request, since its 201 commits at once; an unauthorised client's reservation lasts only until the
 * registry's refusal, and per-client limits bound how many it can have.)
 */
final class MountQuota implements ExchangeQuota {
  private static final Logger LOG = LoggerFactory.getLogger(MountQuota.class);

  private final QuotaPolicy policy;
  private final ExchangeView exchange;
  private final String repository;
  private final String digest;
  /** The reservation and commit intent of this request, under its own id. */
  private final RequestHold hold;
  /** The size reserved for the mount; -1 when it was turned into a plain upload. */
  private long size = -1;

  MountQuota(QuotaPolicy policy, ExchangeView exchange) {
    this.policy = policy;
    this.exchange = exchange;
    this.repository = exchange.oci().repository();
    this.digest = exchange.oci().digest();
    this.hold = new RequestHold(policy.store, repository);
  }

  @Override
  public Future<Admission> decide() {
    return policy.unlessReadOnly(exchange, this::reserve);
  }

  private Future<Admission> reserve() {
    if (!OciNames.isDigest(digest)) {
      // Not a digest: the registry refuses it (DIGEST_INVALID) and nothing can be mounted.
      return Future.succeededFuture(Admission.FORWARD);
    }
    // A namespace the store does not hold yet is not created for a request the registry has not
    // authorised: such a mount is a plain upload, whose session is recorded on the registry's 202.
    return policy.store.namespaceKnown(Scopes.namespace(repository))
        .compose(exists -> exists ? blobSize() : Future.succeededFuture(-1L))
        .compose(known -> {
          if (known < 0) {
            return Future.succeededFuture(asPlainUpload());
          }
          if (hold.settled()) {
            // The exchange ended (its client left) while the size was being learned: nothing to reserve for.
            return Future.succeededFuture(Admission.FORWARD);
          }
          hold.reservationAsked();
          return policy.reserveThroughContention(() -> policy.store.reserveBlobs(repository, hold.id(), List.of(new Blob(digest, known))))
              .compose(r -> {
                if (!r.granted()) {
                  return Future.succeededFuture(asPlainUpload());
                }
                size = known;
                // A mount links the blob at once: if this proxy dies before charging the 201, another does (RegistryIntents).
                return policy.store.intendCommit(repository, hold.id(), null, digest).map(v -> {
                  hold.intentRecorded();
                  return Admission.FORWARD;
                });
              });
        })
        .recover(e -> Future.succeededFuture(policy.storeUnreachable(exchange, e)));
  }

  private Admission asPlainUpload() {
    return Admission.forwardTo(withoutMount(exchange.uri()));
  }

  private Future<Long> blobSize() {
    String from = exchange.oci().mountFrom();
    return policy.store.sizeOf(Scopes.namespace(repository), digest)
        .compose(s -> s >= 0 || from == null ? Future.succeededFuture(s) : policy.store.sizeOf(Scopes.namespace(from), digest))
        .compose(s -> s >= 0 || from == null || !OciNames.isRepositoryName(from)
            ? Future.succeededFuture(s)
            : exchange.upstreamSize(from, digest, false));
  }

  @Override
  public Future<Answer> answered(int status, MultiMap headers) {
    if (status == 202) {
      // A plain session, opened by the registry or asked for by the proxy: an upload start's rules.
      hold.release();
      return new UploadStartQuota(policy, exchange).sessionOpened(status, headers);
    }
    if (status != 201 || size < 0) {
      hold.release();
      return Future.succeededFuture(Answer.RELAY);
    }
    // The commit releases the reservation whole and retires the id: nothing is left to release.
    hold.settleOnce();
    String named = headers.get("Docker-Content-Digest");
    if (named != null && !named.trim().equals(digest)) {
      LOG.warn("{}: the registry mounted {} for a mount of {}; charged as asked", repository, named.trim(), digest);
    }
    return policy.store.commitBlob(repository, hold.id(), null, new Blob(digest, size), exchange.user())
        .map(commit -> Answer.relay(QuotaErrors.softLimitWarnings(commit.scopes())))
        .recover(e -> policy.<Answer>recordFailure(exchange, "mounted blob " + digest, e).otherwise(Answer.RELAY));
  }

  /** Released, unless answered; left to its intent when the registry may have mounted it unanswered. */
  @Override
  public void ended(int status, long bytesIn, long bytesOut) {
    hold.ended();
  }

  /**
   * The same upload start without {@code mount} and {@code from}: the registry then opens a session.
   * Names are compared as the registry decodes them ({@code %6Dount} is {@code mount}); a parameter whose
   * name cannot be decoded is dropped too, so nothing the registry could read as a mount is left.
   */
  static String withoutMount(String uri) {
    int question = uri.indexOf('?');
    if (question < 0) {
      return uri;
    }
    StringBuilder kept = new StringBuilder();
    for (String parameter : uri.substring(question + 1).split("&")) {
      String rawName = parameter.contains("=") ? parameter.substring(0, parameter.indexOf('=')) : parameter;
      String name;
      try {
        name = java.net.URLDecoder.decode(rawName, java.nio.charset.StandardCharsets.UTF_8);
      } catch (IllegalArgumentException malformed) {
        continue;
      }
      if (!name.equals("mount") && !name.equals("from") && !parameter.isEmpty()) {
        kept.append(kept.length() == 0 ? "" : "&").append(parameter);
      }
    }
    return uri.substring(0, question) + (kept.length() == 0 ? "" : "?" + kept);
  }
}
