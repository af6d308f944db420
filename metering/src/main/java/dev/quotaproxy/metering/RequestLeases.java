package dev.quotaproxy.metering;

import dev.quotaproxy.metering.schedule.Periodic;
import dev.quotaproxy.oci.Blob;
import dev.quotaproxy.oci.Scopes;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Response;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Requests' records in Redis are leases: their reservations and their intents (intend.lua) live
 * {@link #REQUEST_LEASE_MILLIS} unless renewed. This process renews its own ({@link #keep}, on a timer);
 * the intents of others whose lease ran out are found here ({@link #lapsedIntents}) for
 * {@code RegistryIntents} to settle with the registry.
 */
public final class RequestLeases {
  private static final Logger LOG = LoggerFactory.getLogger(RequestLeases.class);
  /**
   * How long a request's reservation lives without renewal when a {@link LiveReservations} keeps it (see
   * {@link #keep}): a process that dies gives its requests' bytes back within this.
   */
  public static final long REQUEST_LEASE_MILLIS = 30_000;
  /** How often {@link #keep} runs: well inside the second a restored namespace makes new grants wait. */
  public static final long KEEP_MILLIS = 250;

  private final StoreClient client;
  private final LiveReservations live;
  private final long leaseMillis;

  /** Renews {@code live}'s reservations, with a lease no longer than their TTL. */
  public RequestLeases(StoreClient client, LiveReservations live, Duration reservationTtl) {
    this.client = client;
    this.live = live;
    this.leaseMillis = leaseMillis(reservationTtl.toMillis());
  }

  /** The lease of a request's reservation or intent: at most its TTL. */
  static long leaseMillis(long reservationTtlMillis) {
    return Math.min(REQUEST_LEASE_MILLIS, reservationTtlMillis);
  }

  /** Renews this process's requests' reservations, and re-creates those Redis lost, every {@link #KEEP_MILLIS}. */
  public long keepRenewing(Vertx vertx) {
    return Periodic.every(vertx, KEEP_MILLIS, this::keep, done -> {
      if (done.failed()) {
        LOG.debug("reservations in flight not renewed (next round retries): {}", done.cause().toString());
      }
    });
  }

  /**
   * Renews the leases of this process's requests' reservations and re-creates those Redis lost: one script
   * call per namespace with requests in flight; the number re-created.
   */
  public Future<Integer> keep() {
    if (live == null || live.size() == 0) {
      return Future.succeededFuture(0);
    }
    List<Future<Integer>> calls = new ArrayList<>();
    live.byNamespace().forEach((namespace, reservations) -> calls.add(client.guarded("keep", () -> {
      QuotaKeys keys = QuotaKeys.of(namespace);
      List<String> keyNames = new ArrayList<>(keys.common());
      List<String> args = new ArrayList<>(List.of(Long.toString(leaseMillis)));
      for (Map.Entry<String, LiveReservations.Live> reservation : reservations) {
        LiveReservations.Live held = reservation.getValue();
        List<String> scopes = Scopes.of(held.repository());
        args.add(reservation.getKey());
        args.add(held.repository());
        args.add(Long.toString(held.bytes()));
        args.add(Integer.toString(scopes.size()));
        args.add(Integer.toString(held.slots().size()));
        args.addAll(scopes);
        args.addAll(held.slots());
        if (!held.slots().isEmpty()) {
          // Whether each slot is still one for something new (keep.lua): the repository's links and manifests.
          keyNames.add(keys.links(held.repository()));
          keyNames.add(keys.manifests(held.repository()));
        }
      }
      return client.scripts.run(LuaScripts.KEEP, keyNames, ScopePath.withoutScopes(args)).map(Response::toInteger);
    })));
    return Future.all(calls).map(all -> {
      int recreated = 0;
      for (int i = 0; i < all.size(); i++) {
        recreated += all.<Integer>resultAt(i);
      }
      if (recreated > 0) {
        LOG.warn("{} reservations of requests in flight were missing from Redis (was its data lost?) and were re-created", recreated);
      }
      return recreated;
    });
  }

  /**
   * Records what a request is about to make the registry do (intend.lua). This process holds it too, from
   * before it is sent: the request may go on whether Redis records it or not (see {@link LiveReservations}).
   */
  Future<Void> intend(Intent intent) {
    return client.guarded("intend", () -> {
      StoreClient.checkId(intent.requestId());
      StoreClient.check(intent.digest() != null && !intent.digest().isEmpty(), "an intent needs a digest");
      StringBuilder refs = new StringBuilder();
      for (Blob reference : intent.references()) {
        refs.append(refs.length() == 0 ? "" : ",").append(reference.digest()).append(':').append(reference.size());
      }
      if (live != null) {
        live.intended(intent.requestId(), intent.repository());
        live.intentOpened(intent);
      }
      return new ScopePath(client, intent.repository(), List.of()).run(LuaScripts.INTEND, List.of(), List.of(),
          List.of(intent.requestId(), intent.what().name().toLowerCase(Locale.ROOT), intent.repository(), intent.digest(),
              ScopePath.orNone(intent.sessionId()), Long.toString(leaseMillis), intent.size() < 0 ? "" : Long.toString(intent.size()),
              refs.toString()))
          .mapEmpty();
    });
  }

  /**
   * This process's own intents whose requests ended without their outcome recorded, due to be settled with
   * the registry now (see {@link LiveReservations#dueIntents}).
   */
  public List<Intent> unsettledIntents() {
    return live == null ? List.of() : live.dueIntents();
  }

  /**
   * The intents of a namespace whose lease ran out: their proxy died, or their accounting failed (see
   * {@code RegistryIntents}). Each ended when it was last renewed, one lease before its expiry (proxies share
   * the lease setting).
   */
  public Future<List<Intent>> lapsedIntents(String namespace) {
    return client.guarded("lapsed_intents", () -> new ScopePath(client, namespace, List.of())
        .run(LuaScripts.LAPSED_INTENTS, List.of(), List.of(), List.of())
        .map(reply -> {
          List<Intent> lapsed = new ArrayList<>();
          for (int i = 0; reply != null && i + 7 < reply.size(); i += 8) {
            String session = reply.get(i + 4).toString();
            String size = reply.get(i + 5).toString();
            List<Blob> references = new ArrayList<>();
            for (String reference : reply.get(i + 6).toString().split(",")) {
              int colon = reference.lastIndexOf(':');
              if (colon > 0) {
                references.add(new Blob(reference.substring(0, colon), Long.parseLong(reference.substring(colon + 1))));
              }
            }
            lapsed.add(new Intent(reply.get(i).toString(), Intent.What.valueOf(reply.get(i + 1).toString().toUpperCase(Locale.ROOT)),
                reply.get(i + 2).toString(), reply.get(i + 3).toString(), session.isEmpty() ? null : session,
                size.isEmpty() ? -1 : Long.parseLong(size), List.copyOf(references), reply.get(i + 7).toLong() - leaseMillis));
          }
          return lapsed;
        }));
  }
}
