package dev.quotaproxy.metering;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The highest event number (see common.lua, Events) this process has seen each namespace's Redis state
 * reach. Every script that decides is told it, and finds the namespace's state unknown when Redis's own
 * number is lower: Redis went back to older state (an older snapshot, a truncated AOF) after this process
 * saw it further on. So no decision is made on such state, even in the moment before the ledger or the
 * state watch finds it out; the namespace is restored from the ledger first. One per process, shared by all its
 * store clients (one per event loop): a floor per client let a request on another event loop decide on the
 * older state (the fault suite: a blob deleted there freed nothing, and stayed charged). A namespace this
 * process has not written to since it started is guarded by the ledger's checks only.
 */
public final class SeenSequences {
  private final Map<String, Long> highest = new ConcurrentHashMap<>();

  void saw(String namespace, long sequence) {
    highest.merge(namespace, sequence, Math::max);
  }

  /** The number the namespace's state must have reached (0: nothing seen). */
  long floor(String namespace) {
    return highest.getOrDefault(namespace, 0L);
  }

  /**
   * After a restore this process waited for: the ledger has had this process's held events applied and
   * Redis numbers after them, so the floor has done its work; kept, a number the ledger never got (an event
   * the outbox had to drop) would refuse the namespace forever.
   */
  void forget(String namespace) {
    highest.remove(namespace);
  }
}
