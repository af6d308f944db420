package dev.quotaproxy.proxy.quota;

import dev.quotaproxy.metering.QuotaStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What one request holds in the store under an id of its own (see {@link QuotaStore}): a reservation, once
 * one was asked for, and an intent (intend.lua), once one was recorded; and whether its outcome is booked
 * (committed, released, or handed to its upload session), which happens once.
 *
 * <p>A request that ends with no answer after recording its intent may have made the registry store what
 * it intended: its reservation is then left to the intent, which RegistryIntents settles a few seconds later
 * from this process's copy (or, if the process died, from Redis's once its lease lapses): it asks the
 * registry, and charges what it holds or lets the reservation go. Any other end releases what the request
 * reserved.
 */
final class RequestHold {
  private static final Logger LOG = LoggerFactory.getLogger(RequestHold.class);

  private final QuotaStore store;
  private final String repository;
  private final String id = QuotaPolicy.requestId();
  /** A reservation was asked for: whatever becomes of it, the id is released (and so retired) at the end. */
  private boolean reserving;
  /** Its intent is recorded: see {@link #leaveToIntent}. */
  private boolean intended;
  private boolean settled;

  RequestHold(QuotaStore store, String repository) {
    this.store = store;
    this.repository = repository;
  }

  /** The id the request reserves and records its intent under. */
  String id() {
    return id;
  }

  /** A reservation is about to be asked for under the id. */
  void reservationAsked() {
    reserving = true;
  }

  /** The store recorded the request's intent. */
  void intentRecorded() {
    intended = true;
  }

  /**
   * Whether the outcome is booked, or the exchange is over: then there is nothing left to reserve for (a
   * decision still under way when its client left finds it so).
   */
  boolean settled() {
    return settled;
  }

  /** Claims the booking of the outcome: true the first time, for the caller to book it; false ever after. */
  boolean settleOnce() {
    if (settled) {
      return false;
    }
    settled = true;
    return true;
  }

  /**
   * Books a request that stored nothing: gives back what it reserved and retires the id, unless its
   * outcome is booked already. Also when the client left while the reservation was being asked for:
   * releasing retires the id, so a grant that lands afterwards holds nothing.
   */
  void release() {
    if (!settleOnce() || !reserving) {
      return;
    }
    store.release(repository, id, -1)
        .onFailure(e -> LOG.warn("{}: reservation {} not released, it expires with its TTL: {}", repository, id, e.toString()));
  }

  /**
   * At the end of a request with no outcome booked after its intent was recorded (the registry died, or
   * the connection broke, between storing and answering): the intent stays unsettled; RegistryIntents then
   * asks the registry, and charges what it holds or lets the reservation go. Returns
   * whether the request was left to its intent, now booked.
   */
  boolean leaveToIntent() {
    if (intended && !settled) {
      settled = true;
      return true;
    }
    return false;
  }

  /** The exchange is over: left to its intent, or released; the store no longer keeps the request alive. */
  void ended() {
    leaveToIntent();
    release();
    store.requestEnded(id);
  }
}
