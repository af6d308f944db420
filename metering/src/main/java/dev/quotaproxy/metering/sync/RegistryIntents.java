package dev.quotaproxy.metering.sync;

import dev.quotaproxy.oci.MediaTypes;
import dev.quotaproxy.oci.Blob;
import dev.quotaproxy.metering.LiveReservations;
import dev.quotaproxy.metering.QuotaKeys;
import dev.quotaproxy.metering.QuotaStore;
import dev.quotaproxy.metering.RequestLeases;
import dev.quotaproxy.metering.Intent;
import dev.quotaproxy.metering.schedule.Periodic;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.redis.client.Redis;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finishes the accounting of requests whose proxy died, or whose store call failed, after the registry
 * acted on them. Before a closing PUT (or monolithic upload) or a DELETE of a blob or manifest goes to
 * the registry, its request records what it may make the registry do (intend.lua), renewed while it runs;
 * recording the outcome, or any other end of the request, removes the record. A record whose lease ran
 * out is settled by asking the registry itself what it holds (a {@code HEAD} in the repository, as the
 * reconciliation asks it, without a client's credentials): a blob it stored is charged, a blob or
 * manifest it no longer has is dropped, and otherwise the record just goes. Without this, a blob stored
 * at that moment would never be charged (it is in no manifest yet, so no reconciliation walk sees it),
 * and a deleted one would stay charged until the next reconciliation. The requests of this process that
 * ended so are settled the same way from its own copy of their intents ({@link LiveReservations}), a few
 * seconds after they end, since Redis's copy may be lost with its data.
 */
public final class RegistryIntents {
  private static final Logger LOG = LoggerFactory.getLogger(RegistryIntents.class);
  public static final long CHECK_MILLIS = 5_000;
  /** How often this process's own unsettled intents are looked at: most are due as soon as their request ends. */
  public static final long OWN_CHECK_MILLIS = 250;
  private static final String MANIFEST_TYPES = String.join(", ", MediaTypes.OCI_IMAGE_MANIFEST, MediaTypes.OCI_IMAGE_INDEX,
      MediaTypes.OCI_ARTIFACT_MANIFEST, MediaTypes.DOCKER_MANIFEST, MediaTypes.DOCKER_MANIFEST_LIST);

  /**
   * The size of a blob ({@code kind} {@code blobs}) or manifest ({@code manifests}) in a repository at the
   * registry: -1 when it is not there; a failure when that cannot be told.
   */
  @FunctionalInterface
  public interface RegistryLookup {
    Future<Long> size(String repository, String kind, String digest);
  }

  private final QuotaStore store;
  private final RequestLeases leases;
  private final Redis redis;
  private final RegistryLookup registry;

  /** Settles through {@code store} the intents {@code leases} finds lapsed. */
  public RegistryIntents(QuotaStore store, RequestLeases leases, Redis redis, RegistryLookup registry) {
    this.store = store;
    this.leases = leases;
    this.redis = redis;
    this.registry = registry;
  }

  /** A lookup through plain {@code HEAD /v2/<repository>/<kind>/<digest>} on the registry's client. */
  public static RegistryLookup headOn(HttpClient upstream) {
    // A manifest is found only by a client that accepts its media type: every type, so none reads as gone.
    return (repository, kind, digest) -> upstream.request(new RequestOptions().setMethod(HttpMethod.HEAD)
        .setURI("/v2/" + repository + "/" + kind + "/" + digest).putHeader("Accept", MANIFEST_TYPES))
        .compose(HttpClientRequest::send)
        .compose(response -> response.end().compose(v -> {
          if (response.statusCode() == 200) {
            String length = response.getHeader("Content-Length");
            return length == null
                ? Future.failedFuture("HEAD of " + digest + " named no size")
                : Future.succeededFuture(Long.parseLong(length));
          }
          return response.statusCode() == 404
              ? Future.succeededFuture(-1L)
              : Future.failedFuture("HEAD of " + digest + " in " + repository + " answered " + response.statusCode());
        }));
  }

  /** Checks every {@link #CHECK_MILLIS}, and this process's own intents every {@link #OWN_CHECK_MILLIS}; never two at once. */
  public long keepChecking(Vertx vertx) {
    Periodic.every(vertx, OWN_CHECK_MILLIS, this::settleOwn, done -> {
      if (done.failed()) {
        LOG.debug("unsettled intents not settled (next round retries): {}", done.cause().toString());
      }
    });
    return Periodic.every(vertx, CHECK_MILLIS, this::settleLapsed, done -> {
      if (done.failed()) {
        LOG.debug("commit intents not checked (next round retries): {}", done.cause().toString());
      }
    });
  }

  /** This process's own unsettled intents that are due; how many were settled. */
  public Future<Integer> settleOwn() {
    return finish(leases.unsettledIntents());
  }

  /**
   * One pass: this process's own unsettled intents first (they need no Redis to be found), then the lapsed
   * intents of every listed namespace; how many were settled.
   */
  public Future<Integer> checkOnce() {
    return settleOwn().compose(own -> settleLapsed().map(lapsed -> own + lapsed));
  }

  /** The lapsed intents of every listed namespace; how many were settled. */
  private Future<Integer> settleLapsed() {
    return QuotaKeys.Namespaces.read(redis).compose(listed -> {
      Future<Integer> all = Future.succeededFuture(0);
      for (String namespace : listed.names()) {
        all = all.compose(done -> leases.lapsedIntents(namespace).compose(this::finish).map(n -> done + n));
      }
      return all;
    });
  }

  private Future<Integer> finish(List<Intent> lapsed) {
    Future<Integer> all = Future.succeededFuture(0);
    for (Intent intent : lapsed) {
      all = all.compose(done -> finish(intent).map(finished -> done + (finished ? 1 : 0)));
    }
    return all;
  }

  private Future<Boolean> finish(Intent intent) {
    String kind = intent.what() == Intent.What.DROP_MANIFEST || intent.what() == Intent.What.COMMIT_MANIFEST ? "manifests" : "blobs";
    return registry.size(intent.repository(), kind, intent.digest()).compose(size -> {
      Future<?> settled = switch (intent.what()) {
        case COMMIT -> size < 0 ? ended(intent) : charged(intent, size);
        case COMMIT_MANIFEST -> size < 0 ? ended(intent) : manifestCharged(intent);
        case DROP_BLOB ->
          size < 0 ? dropped(intent, store.dropBlob(intent.repository(), intent.digest(), "", intent.requestId())) : ended(intent);
        case DROP_MANIFEST -> size < 0
            ? dropped(intent, store.dropManifest(intent.repository(), intent.digest(), "", intent.requestId()))
            : ended(intent);
      };
      return settled.map(true);
    }).recover(e -> {
      LOG.warn("{}: what the registry did with {} cannot be told now ({}); asked again later", intent.repository(), intent.digest(),
          e.toString());
      return Future.succeededFuture(false);
    });
  }

  private Future<?> charged(Intent intent, long size) {
    LOG.warn(
        "{}: blob {} ({} bytes) was stored by a request whose outcome was never recorded (its proxy stopped, or its store call failed); charged now",
        intent.repository(), intent.digest(), size);
    return store.commitBlobLate(intent.repository(), intent.requestId(), intent.sessionId(), new Blob(intent.digest(), size),
        intent.endedAtMillis());
  }

  private Future<?> manifestCharged(Intent intent) {
    LOG.warn(
        "{}: manifest {} was stored by a request whose outcome was never recorded (its proxy stopped, or its store call failed); charged now",
        intent.repository(), intent.digest());
    return store.commitManifestLate(intent.repository(), intent.requestId(), new Blob(intent.digest(), intent.size()), intent.references(),
        intent.endedAtMillis());
  }

  private Future<?> dropped(Intent intent, Future<?> drop) {
    LOG.warn("{}: {} was deleted by a request whose outcome was never recorded (its proxy stopped, or its store call failed); recorded now",
        intent.repository(), intent.digest());
    return drop;
  }

  /** The registry did not do it: the intent just goes, with the request's id. */
  private Future<?> ended(Intent intent) {
    return store.release(intent.repository(), intent.requestId(), -1);
  }
}
