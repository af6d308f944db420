package dev.quotaproxy.proxy;

import dev.quotaproxy.proxy.support.ConcurrentPushes;
import dev.quotaproxy.proxy.support.ConcurrentPushes.Outcome;
import dev.quotaproxy.proxy.support.ConcurrentPushes.Push;
import dev.quotaproxy.proxy.support.ConcurrentPushes.Style;
import dev.quotaproxy.proxy.support.ConcurrentPushes.Tally;
import dev.quotaproxy.proxy.support.QuotaHarness;
import dev.quotaproxy.proxy.support.QuotaHarness.Deployed;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * 32 clients push distinct 1 MiB blobs at the same moment into one scope limited to 10 MiB, through
 * one proxy and then through two proxy instances sharing one Redis (16 clients on each), against a
 * real registry: accepted bytes never exceed the limit, usage equals what the registry accepted, no
 * reservation is left, and every refusal is a 403 that was right when it was made (see
 * {@link ConcurrentPushes#verify}).
 *
 * <p>With {@code Content-Length} each upload reserves its whole megabyte at once or is refused, so
 * exactly ten are accepted.
 *
 * <p>Chunked uploads reserve in increments ({@code 64KiB} here, so they race for real) as their bytes
 * arrive, so when the scope fills its 10 MiB is spread over many half-sent uploads. An upload whose
 * next increment is refused only because of others' bytes in flight waits for them (jittered, for a
 * few seconds) instead of being cut off at once; the ones that give up first release what they held,
 * and the rest complete. Ten usually get through; exactly ten is not guaranteed (if the waits run out
 * in the wrong order, fewer do), but overshoot, exact usage, nothing left reserved and no refusal
 * without cause always hold, and at least one push gets through.
 *
 * <p>Each test works in a namespace of its own; both proxies are configured with the same limits.
 */
class ConcurrentPushTest {
  private static final int MiB = 1024 * 1024;
  private static final int CLIENTS = 32;
  private static final long LIMIT = 10L * MiB;
  private static final String LIMITS = """
      quota:
        scopes:
          length: {storage-hard: 10MiB}
          chunked: {storage-hard: 10MiB}
          two-length: {storage-hard: 10MiB}
          two-chunked: {storage-hard: 10MiB}
      """;

  static QuotaHarness harness;
  static Deployed first;
  static Deployed second;

  @BeforeAll
  static void start() throws Exception {
    harness = new QuotaHarness();
    first = harness.startProxy(LIMITS, "--quota.chunk-reservation", "64KiB");
    second = harness.startProxy(LIMITS, "--quota.chunk-reservation", "64KiB");
  }

  @AfterAll
  static void stop() throws Exception {
    if (harness != null) {
      harness.close();
    }
  }

  @Test
  void thirtyTwoContentLengthPushesFillTheScopeExactlyAndNeverPastIt() throws Exception {
    race("length", Style.CONTENT_LENGTH, List.of(first), 10);
  }

  @Test
  void thirtyTwoChunkedPushesNeverPassTheLimit() throws Exception {
    race("chunked", Style.CHUNKED, List.of(first), 1);
  }

  @Test
  void twoProxiesSharingRedisFillTheScopeExactlyWithContentLengthPushes() throws Exception {
    race("two-length", Style.CONTENT_LENGTH, List.of(first, second), 10);
  }

  @Test
  void twoProxiesSharingRedisNeverPassTheLimitWithChunkedPushes() throws Exception {
    race("two-chunked", Style.CHUNKED, List.of(first, second), 1);
  }

  /** 32 pushes into the namespace, split evenly over the proxies; checks every invariant; logs the counts. */
  private static Tally race(String namespace, Style style, List<Deployed> proxies, int minAccepted) throws Exception {
    List<Push> pushes = ConcurrentPushes.pushes(CLIENTS, MiB, namespace,
        proxies.stream().map(proxy -> proxy.client().base()).toList());

    List<Outcome> outcomes = ConcurrentPushes.race(pushes, style);

    System.out.printf("ConcurrentPushTest %s, %s, %d proxies: %s%n", namespace, style, proxies.size(), ConcurrentPushes.summary(outcomes));
    Tally tally = ConcurrentPushes.verify(outcomes, LIMIT, minAccepted, () -> harness.scope(first.store(), namespace),
        harness.direct(), harness.registry().storage());
    System.out.printf("ConcurrentPushTest %s: %s%n", namespace, tally);
    return tally;
  }
}
