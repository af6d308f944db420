package dev.quotaproxy.ledger;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What one application of events did.
 *
 * @param count      events applied now (redelivered ones count 0)
 * @param olderRedis namespaces whose new events came from a Redis holding older state than the ledger
 *                   (see {@link Ledger#apply(List, Map)}): their usage was recounted from the links, and their
 *                   Redis state must be restored from the ledger
 */
public record Applied(int count, Set<String> olderRedis) {
  public Applied {
    olderRedis = Set.copyOf(olderRedis);
  }
}
