package dev.quotaproxy.proxy.quota;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What the push path shares across every event loop of the process so that no client holds more than
 * its part for free: push requests in flight per client address, and the bytes of manifest bodies
 * buffered at once. Thread-safe; every {@code try...} that succeeds is matched by one release.
 */
public final class PushLimits {
  private final int maxPerClient;
  private final long manifestBudget;
  private final ConcurrentHashMap<String, Integer> inFlight = new ConcurrentHashMap<>();
  private final AtomicLong buffered = new AtomicLong();

  /**
   * @param maxPerClient   push requests one client address may have in flight; 0 for no limit
   * @param manifestBudget bytes of manifest bodies buffered at once, over all requests
   */
  public PushLimits(int maxPerClient, long manifestBudget) {
    this.maxPerClient = maxPerClient;
    this.manifestBudget = manifestBudget;
  }

  public int maxPerClient() {
    return maxPerClient;
  }

  public long manifestBudget() {
    return manifestBudget;
  }

  /** Counts a push request of {@code client} in, unless it has as many in flight as it may. */
  public boolean tryEnter(String client) {
    if (maxPerClient <= 0) {
      return true;
    }
    boolean[] entered = {false};
    inFlight.compute(client, (address, count) -> {
      int current = count == null ? 0 : count;
      if (current >= maxPerClient) {
        return count;
      }
      entered[0] = true;
      return current + 1;
    });
    return entered[0];
  }

  /** Counts a push request of {@code client} out; the entry goes when its last request does. */
  public void leave(String client) {
    if (maxPerClient <= 0) {
      return;
    }
    inFlight.computeIfPresent(client, (address, count) -> count <= 1 ? null : count - 1);
  }

  /** Push requests in flight from {@code client}. */
  public int inFlight(String client) {
    return inFlight.getOrDefault(client, 0);
  }

  /** Takes {@code bytes} of the manifest budget, unless that would pass it. */
  public boolean tryBuffer(long bytes) {
    while (true) {
      long current = buffered.get();
      if (current + bytes > manifestBudget) {
        return false;
      }
      if (buffered.compareAndSet(current, current + bytes)) {
        return true;
      }
    }
  }

  public void unbuffer(long bytes) {
    buffered.addAndGet(-bytes);
  }

  /** Bytes of the manifest budget taken now. */
  public long buffered() {
    return buffered.get();
  }
}
