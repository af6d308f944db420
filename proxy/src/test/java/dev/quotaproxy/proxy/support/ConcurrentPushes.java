package dev.quotaproxy.proxy.support;

import static dev.quotaproxy.testing.Eventually.eventually;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.metering.QuotaStore.ScopeState;
import dev.quotaproxy.proxy.support.OciTestClient.Reply;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Many clients pushing one blob each at the same moment, and the checks that a quota held under that
 * race: nothing accepted past the limit, usage equal to what the registry really holds, no reservation
 * left behind, and every refusal a clean {@code 403 DENIED}.
 *
 * <p>Each push has a client of its own (its own connections), a repository of its own and distinct
 * random bytes; all threads are started, then released together by one latch.
 */
public final class ConcurrentPushes {
  /** How the blob goes up. */
  public enum Style {
    /** {@code POST}, then one {@code PUT ?digest=} carrying the blob with its {@code Content-Length}. */
    CONTENT_LENGTH,
    /** {@code POST}, one chunked {@code PATCH} (no length, as podman sends), then an empty closing {@code PUT}. */
    CHUNKED
  }

  /** One client's push: where it goes (a proxy), into which repository, and what. */
  public record Push(String origin, String repository, byte[] blob) {
    public String digest() {
      return OciTestClient.digest(blob);
    }
  }

  /**
   * @param status  the final status the client saw (the closing PUT's, or the first refusal), 0 when the request failed
   * @param code    the first OCI error code of a non-2xx body, or null
   * @param body    the final reply's body
   * @param failure what went wrong when no reply came (connection reset and the like), or null
   */
  public record Outcome(Push push, int status, String code, String body, String failure) {
    public boolean accepted() {
      return status == 201;
    }

    @Override
    public String toString() {
      return push.repository() + " via " + push.origin() + ": "
          + (failure != null ? "failed: " + failure : status + " " + code + " " + body);
    }
  }

  /** What a race ended in, for the log of a run. */
  public record Tally(int accepted, int refused, long usedBytes, long limitBytes) {
    @Override
    public String toString() {
      return "accepted " + accepted + ", refused " + refused + ", used " + usedBytes + " of " + limitBytes
          + " bytes, overshoot " + Math.max(0, usedBytes - limitBytes);
    }
  }

  private ConcurrentPushes() {}

  /**
   * {@code count} pushes of {@code size} distinct random bytes each, to {@code namespace/c00},
   * {@code namespace/c01} and on, split over the origins in equal blocks (with two origins, the first
   * half goes through the first).
   */
  public static List<Push> pushes(int count, int size, String namespace, List<String> origins) {
    List<Push> pushes = new ArrayList<>(count);
    int perOrigin = (count + origins.size() - 1) / origins.size();
    for (int i = 0; i < count; i++) {
      pushes.add(new Push(origins.get(i / perOrigin), String.format("%s/c%02d", namespace, i), OciTestClient.randomBytes(size)));
    }
    assertThat(pushes.stream().map(Push::digest).distinct().count()).as("distinct blobs").isEqualTo(count);
    return pushes;
  }

  /** Runs every push on a thread of its own, all released at once; waits for all of them. */
  public static List<Outcome> race(List<Push> pushes, Style style) throws Exception {
    ExecutorService threads = Executors.newFixedThreadPool(pushes.size());
    try {
      CountDownLatch ready = new CountDownLatch(pushes.size());
      CountDownLatch go = new CountDownLatch(1);
      List<Future<Outcome>> running = new ArrayList<>();
      for (Push push : pushes) {
        // A client per push: its own HttpClient, so its own connections, as separate push clients have.
        OciTestClient client = new OciTestClient(push.origin());
        Callable<Outcome> task = () -> {
          ready.countDown();
          go.await();
          return push(client, push, style);
        };
        running.add(threads.submit(task));
      }
      assertThat(ready.await(30, TimeUnit.SECONDS)).as("all pushers started").isTrue();
      go.countDown();
      List<Outcome> outcomes = new ArrayList<>();
      for (Future<Outcome> outcome : running) {
        outcomes.add(outcome.get(180, TimeUnit.SECONDS));
      }
      return outcomes;
    } finally {
      threads.shutdownNow();
    }
  }

  private static Outcome push(OciTestClient client, Push push, Style style) {
    try {
      Reply reply = style == Style.CHUNKED
          ? client.pushBlobChunked(push.repository(), push.blob())
          : client.pushBlob(push.repository(), push.blob());
      return new Outcome(push, reply.status(), errorCode(reply), reply.body(), null);
    } catch (RuntimeException e) {
      return new Outcome(push, 0, null, null, e.toString());
    }
  }

  private static String errorCode(Reply reply) {
    if (reply.status() / 100 == 2 || reply.body() == null || reply.body().isBlank()) {
      return null;
    }
    try {
      return new JsonObject(reply.body()).getJsonArray("errors").getJsonObject(0).getString("code");
    } catch (RuntimeException notOciJson) {
      return "(not an OCI error body)";
    }
  }

  /**
   * Checks every invariant of a race into the pushes' namespace, a scope limited to {@code limitBytes}
   * into which only these pushes went:
   * <ul>
   *   <li>every push got 201 or {@code 403 DENIED}: no 5xx, no other status, no broken connection;
   *   <li>every refusal was right when it was made: its detail names the scope and its limit, and the
   *       usage it saw (used and reserved) plus the bytes asked for pass the limit (a refused upload
   *       start: usage at the limit);
   *   <li>accepted blobs fit in the limit: overshoot exactly 0;
   *   <li>the scope's usage is exactly the accepted blobs' bytes, and nothing stays reserved (given a
   *       few seconds, since a proxy gives back cut-off reservations without waiting for Redis);
   *   <li>the registry, asked directly, holds exactly the accepted blobs, each in its repository, and
   *       its storage links no other blob into the namespace's repositories.
   * </ul>
   *
   * @param minAccepted the fewest pushes that must be accepted: all that fit when each reserves its
   *                    whole length at once, so that the limit is shown to be reached
   * @param scope       reads the scope's state from the store
   */
  public static Tally verify(List<Outcome> outcomes, long limitBytes, int minAccepted, Callable<ScopeState> scope,
      OciTestClient registry, Path registryStorage) throws Exception {
    List<Outcome> unexpected = outcomes.stream()
        .filter(o -> !(o.status() == 201 || (o.status() == 403 && "DENIED".equals(o.code()))))
        .toList();
    assertThat(unexpected).as("pushes that ended in neither 201 nor 403 DENIED").isEmpty();

    String namespace = outcomes.get(0).push().repository().split("/")[0];
    for (Outcome refused : outcomes.stream().filter(o -> o.status() == 403).toList()) {
      JsonObject detail = new JsonObject(refused.body()).getJsonArray("errors").getJsonObject(0).getJsonObject("detail");
      long usage = detail.getLong("usage");
      long requested = detail.getLong("requested");
      assertThat(detail.getString("scope")).as("scope that refused %s", refused).isEqualTo(namespace);
      assertThat(detail.getLong("limit")).as("limit that refused %s", refused).isEqualTo(limitBytes);
      if (requested == 0) {
        assertThat(usage).as("an upload start refused only when the scope is full: %s", refused).isGreaterThanOrEqualTo(limitBytes);
      } else {
        assertThat(usage + requested).as("bytes refused only when they would not fit: %s", refused).isGreaterThan(limitBytes);
      }
    }

    List<Outcome> accepted = outcomes.stream().filter(Outcome::accepted).toList();
    long acceptedBytes = accepted.stream().mapToLong(o -> o.push().blob().length).sum();
    int blobSize = outcomes.get(0).push().blob().length;
    Tally tally = new Tally(accepted.size(), outcomes.size() - accepted.size(), acceptedBytes, limitBytes);

    assertThat(acceptedBytes).as("bytes accepted against a limit of %d (%s)", limitBytes, tally).isLessThanOrEqualTo(limitBytes);
    assertThat(accepted.size()).as("accepted pushes (%s)", tally).isBetween(minAccepted, (int) (limitBytes / blobSize));

    ScopeState state = scope.call();
    assertThat(state.limits().storageHard()).as("the scope's hard limit").isEqualTo(limitBytes);
    assertThat(state.used()).as("scope usage = bytes the registry accepted (%s)", tally).isEqualTo(acceptedBytes);
    eventually(Duration.ofSeconds(5), () -> assertThat(scope.call().reserved()).as("bytes still reserved after every push ended").isZero());
    assertThat(scope.call().used()).as("usage, once settled").isEqualTo(acceptedBytes);

    for (Outcome outcome : outcomes) {
      Reply head = registry.head("/v2/" + outcome.push().repository() + "/blobs/" + outcome.push().digest());
      if (outcome.accepted()) {
        assertThat(head.status()).as("registry holds accepted %s", outcome).isEqualTo(200);
        assertThat(head.header("Content-Length")).as("size the registry holds for %s", outcome)
            .contains(Integer.toString(outcome.push().blob().length));
      } else {
        assertThat(head.status()).as("registry has no refused %s", outcome).isEqualTo(404);
      }
    }
    assertThat(layersLinked(registryStorage, namespace)).as("blobs the registry's storage links into repositories of %s", namespace)
        .containsExactlyInAnyOrderElementsOf(accepted.stream().map(o -> o.push().repository() + "@" + o.push().digest()).toList());
    assertThat(blobBytesLinked(registryStorage, namespace)).as("blob bytes stored for %s", namespace).isEqualTo(acceptedBytes);
    return tally;
  }

  /**
   * {@code repository@digest} of every blob the registry's filesystem storage has linked into a
   * repository of the namespace: what it would serve, read from its files rather than its API.
   */
  public static List<String> layersLinked(Path registryStorage, String namespace) throws IOException {
    Path repositories = registryStorage.resolve("docker/registry/v2/repositories");
    Path root = repositories.resolve(namespace);
    if (!Files.exists(root)) {
      return List.of();
    }
    List<String> linked = new ArrayList<>();
    try (Stream<Path> files = Files.walk(root)) {
      for (Path link : files.filter(p -> p.getFileName().toString().equals("link") && p.toString().contains("/_layers/")).toList()) {
        String relative = repositories.relativize(link).toString();
        linked.add(relative.substring(0, relative.indexOf("/_layers/")) + "@" + Files.readString(link).trim());
      }
    }
    return linked;
  }

  /** Bytes of the blob data behind {@link #layersLinked}. */
  public static long blobBytesLinked(Path registryStorage, String namespace) throws IOException {
    long bytes = 0;
    for (String linked : layersLinked(registryStorage, namespace)) {
      String hex = linked.substring(linked.indexOf("@sha256:") + "@sha256:".length());
      bytes += Files.size(registryStorage.resolve("docker/registry/v2/blobs/sha256/" + hex.substring(0, 2) + "/" + hex + "/data"));
    }
    return bytes;
  }

  /** One line per outcome status, for a failure message or a run log: {@code 201 x10, 403 DENIED x22}. */
  public static String summary(List<Outcome> outcomes) {
    return outcomes.stream()
        .collect(Collectors.groupingBy(o -> o.failure() != null ? "failed" : o.status() + (o.code() == null ? "" : " " + o.code()),
            java.util.TreeMap::new, Collectors.counting()))
        .entrySet().stream().map(e -> e.getKey() + " x" + e.getValue()).collect(Collectors.joining(", "));
  }
}
