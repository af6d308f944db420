package dev.quotaproxy.proxy.ledger;

import dev.quotaproxy.proxy.quota.QuotaKeys;
import dev.quotaproxy.proxy.quota.QuotaStore.Blob;
import dev.quotaproxy.proxy.quota.RedisQuotaStore;
import dev.quotaproxy.proxy.quota.RedisQuotaStore.LapsedCommit;
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
 * Finishes the commits of proxies that died in the middle of one. Before a closing PUT goes to the
 * registry its request records what it may commit (intend_commit.lua), renewed while it runs; the commit
 * or any other end of the request removes the record. A record whose lease ran out belongs to a proxy
 * that died after sending the request: whether the registry stored the blob is then asked of the
 * registry itself (a {@code HEAD} in the repository, as the reconciliation asks it, without a client's
 * credentials), and the blob is charged if it is there; if it is not, the record is dropped. Without
 * this, a blob stored at that moment would never be charged: it is in no manifest yet, so no
 * reconciliation walk can see it.
 */
public final class CommitIntents {
  private static final Logger LOG = LoggerFactory.getLogger(CommitIntents.class);
  public static final long CHECK_MILLIS = 5_000;

  /** The size of a blob in a repository at the registry: -1 when it is not there; a failure when that cannot be told. */
  @FunctionalInterface
  public interface BlobLookup {
    Future<Long> size(String repository, String digest);
  }

  private final RedisQuotaStore store;
  private final Redis redis;
  private final BlobLookup registry;
  private boolean checking;

  public CommitIntents(RedisQuotaStore store, Redis redis, BlobLookup registry) {
    this.store = store;
    this.redis = redis;
    this.registry = registry;
  }

  /** A lookup through plain {@code HEAD /v2/<repository>/blobs/<digest>} on the registry's client. */
  public static BlobLookup headOn(HttpClient upstream) {
    return (repository, digest) -> upstream.request(new RequestOptions().setMethod(HttpMethod.HEAD)
            .setURI("/v2/" + repository + "/blobs/" + digest))
        .compose(HttpClientRequest::send)
        .compose(response -> response.end().compose(v -> {
          if (response.statusCode() == 200) {
            String length = response.getHeader("Content-Length");
            return length == null ? Future.failedFuture("HEAD of " + digest + " named no size") : Future.succeededFuture(Long.parseLong(length));
          }
          return response.statusCode() == 404 ? Future.succeededFuture(-1L)
              : Future.failedFuture("HEAD of " + digest + " in " + repository + " answered " + response.statusCode());
        }));
  }

  /** Checks every {@link #CHECK_MILLIS}, never two at once. */
  public long keepChecking(Vertx vertx) {
    return vertx.setPeriodic(CHECK_MILLIS, id -> {
      if (checking) {
        return;
      }
      checking = true;
      checkOnce().onComplete(done -> {
        checking = false;
        if (done.failed()) {
          LOG.debug("commit intents not checked (next round retries): {}", done.cause().toString());
        }
      });
    });
  }

  /** One pass over every listed namespace; how many lapsed intents were charged or dropped. */
  public Future<Integer> checkOnce() {
    return QuotaKeys.Namespaces.read(redis).compose(listed -> {
      Future<Integer> all = Future.succeededFuture(0);
      for (String namespace : listed.names()) {
        all = all.compose(done -> store.lapsedCommits(namespace).compose(this::finish).map(n -> done + n));
      }
      return all;
    });
  }

  private Future<Integer> finish(List<LapsedCommit> lapsed) {
    Future<Integer> all = Future.succeededFuture(0);
    for (LapsedCommit commit : lapsed) {
      all = all.compose(done -> finish(commit).map(finished -> done + (finished ? 1 : 0)));
    }
    return all;
  }

  private Future<Boolean> finish(LapsedCommit commit) {
    return registry.size(commit.repository(), commit.digest()).compose(size -> {
      if (size < 0) {
        // Not stored: the request never completed. Ending its id drops the intent.
        return store.release(commit.repository(), commit.requestId(), -1).map(true);
      }
      LOG.warn("{}: blob {} ({} bytes) was stored by a request whose proxy stopped before charging it; charged now",
          commit.repository(), commit.digest(), size);
      return store.commitBlob(commit.repository(), commit.requestId(), commit.sessionId(), new Blob(commit.digest(), size), "")
          .map(true);
    }).recover(e -> {
      LOG.warn("{}: whether blob {} was stored cannot be told now ({}); asked again later", commit.repository(), commit.digest(),
          e.toString());
      return Future.succeededFuture(false);
    });
  }
}
