package dev.quotaproxy.proxy.quota;

import dev.quotaproxy.metering.QuotaStore;
import dev.quotaproxy.oci.Blob;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A {@link QuotaStore} for the rules' unit tests: it records every call, in order, with its arguments,
 * and answers what the test programmed for that method, else a default that grants and succeeds
 * (reservations granted whole, commits of what was asked, sizes unknown, namespaces known, sessions
 * recorded clean and empty, egress allowed into one window). Answers are synchronous unless a test
 * {@link #hold holds} one, so a rule's future is complete when the call that made it returns.
 */
final class FakeQuotaStore implements QuotaStore {
  /** A call as the rule made it: the method's name and its arguments. */
  record Call(String method, List<Object> args) {
    Object arg(int index) {
      return args.get(index);
    }
  }

  /** What a programmed failure fails with: the store could not be asked. */
  static final class StoreDown extends RuntimeException {
    private static final long serialVersionUID = 1L;

    StoreDown(String method) {
      super("store down (" + method + ")", null, false, false);
    }
  }

  private final List<Call> calls = new ArrayList<>();
  private final Map<String, Function<Call, Future<?>>> answers = new HashMap<>();
  private final Map<String, Deque<Function<Call, Future<?>>>> nextAnswers = new HashMap<>();

  /** Every call of {@code method} is answered by {@code answer}. */
  FakeQuotaStore answer(String method, Function<Call, Future<?>> answer) {
    answers.put(known(method), answer);
    return this;
  }

  /** Every call of {@code method} succeeds with {@code value}. */
  FakeQuotaStore answerWith(String method, Object value) {
    return answer(method, call -> Future.succeededFuture(value));
  }

  /** The next call of {@code method} succeeds with {@code value}; later ones get the answer before it. */
  FakeQuotaStore answerOnce(String method, Object value) {
    nextAnswers.computeIfAbsent(known(method), m -> new ArrayDeque<>()).add(call -> Future.succeededFuture(value));
    return this;
  }

  /** Every call of {@code method} fails: the store cannot be asked. */
  FakeQuotaStore fail(String method) {
    return answer(method, call -> Future.failedFuture(new StoreDown(method)));
  }

  /** The next call of {@code method} waits for the test to complete the promise returned. */
  <T> Promise<T> hold(String method) {
    Promise<T> answer = Promise.promise();
    nextAnswers.computeIfAbsent(known(method), m -> new ArrayDeque<>()).add(call -> answer.future());
    return answer;
  }

  /** Every call made, in order. */
  List<Call> calls() {
    return List.copyOf(calls);
  }

  /** The names of the methods called, in order. */
  List<String> methods() {
    return calls.stream().map(Call::method).toList();
  }

  List<Call> calls(String method) {
    known(method);
    return calls.stream().filter(call -> call.method().equals(method)).toList();
  }

  /** The one call of {@code method}; fails the test when there were none or several. */
  Call only(String method) {
    List<Call> made = calls(method);
    if (made.size() != 1) {
      throw new AssertionError("expected one call of " + method + ", got " + made.size() + " in " + calls);
    }
    return made.get(0);
  }

  /** A method name QuotaStore has: a typo in a test must not program nothing silently. */
  private static String known(String method) {
    if (Arrays.stream(QuotaStore.class.getMethods()).noneMatch(m -> m.getName().equals(method))) {
      throw new IllegalArgumentException("QuotaStore has no method " + method);
    }
    return method;
  }

  @SuppressWarnings("unchecked")
  private <T> Future<T> call(String method, Supplier<Future<T>> byDefault, Object... args) {
    Call call = new Call(method, Arrays.asList(args));
    calls.add(call);
    Deque<Function<Call, Future<?>>> next = nextAnswers.get(method);
    Function<Call, Future<?>> answer = next != null && !next.isEmpty() ? next.poll() : answers.get(method);
    return answer != null ? (Future<T>) answer.apply(call) : byDefault.get();
  }

  private static <T> Future<T> notForRules(String method) {
    return Future.failedFuture(new UnsupportedOperationException(method + " is not a rule's call"));
  }

  @Override
  public Future<Reservation> reserveBytes(String repository, String requestId, String sessionId, long minBytes, long maxBytes) {
    return call("reserveBytes", () -> Future.succeededFuture(new Reservation(maxBytes, null)),
        repository, requestId, sessionId, minBytes, maxBytes);
  }

  @Override
  public Future<Reservation> reserveBlobs(String repository, String requestId, List<Blob> blobs) {
    return call("reserveBlobs", () -> Future.succeededFuture(
        new Reservation(new LinkedHashSet<>(blobs).stream().mapToLong(Blob::size).sum(), null)),
        repository, requestId, blobs);
  }

  @Override
  public Future<Void> release(String repository, String reservationId, long bytes) {
    return call("release", Future::succeededFuture, repository, reservationId, bytes);
  }

  @Override
  public Future<Void> settle(String repository, String requestId, String sessionId, long storedBytes, boolean sessionDirty) {
    return call("settle", Future::succeededFuture, repository, requestId, sessionId, storedBytes, sessionDirty);
  }

  @Override
  public Future<Reservation> openSession(String repository, String sessionId) {
    return call("openSession", () -> Future.succeededFuture(new Reservation(0, null)), repository, sessionId);
  }

  @Override
  public Future<Session> session(String repository, String sessionId) {
    return call("session", () -> Future.succeededFuture(new Session(true, 0, false)), repository, sessionId);
  }

  @Override
  public Future<Commit> commitBlob(String repository, String requestId, String sessionId, Blob blob, String user) {
    return call("commitBlob", () -> Future.succeededFuture(new Commit(true, blob.size(), List.of())),
        repository, requestId, sessionId, blob, user);
  }

  @Override
  public Future<Commit> commitManifest(String repository, String requestId, Blob manifest, List<Blob> references, String user) {
    return call("commitManifest", () -> Future.succeededFuture(new Commit(true, manifest.size(), List.of())),
        repository, requestId, manifest, references, user);
  }

  @Override
  public Future<Commit> commitBlobLate(String repository, String requestId, String sessionId, Blob blob, long endedAtMillis) {
    return call("commitBlobLate", () -> Future.succeededFuture(new Commit(true, blob.size(), List.of())),
        repository, requestId, sessionId, blob, endedAtMillis);
  }

  @Override
  public Future<Commit> commitManifestLate(String repository, String requestId, Blob manifest, List<Blob> references, long endedAtMillis) {
    return call("commitManifestLate", () -> Future.succeededFuture(new Commit(true, manifest.size(), List.of())),
        repository, requestId, manifest, references, endedAtMillis);
  }

  @Override
  public Future<Change> dropBlob(String repository, String digest, String user, String requestId) {
    return call("dropBlob", () -> Future.succeededFuture(new Change(List.of())), repository, digest, user, requestId);
  }

  @Override
  public Future<Change> dropManifest(String repository, String manifestDigest, String user, String requestId) {
    return call("dropManifest", () -> Future.succeededFuture(new Change(List.of())), repository, manifestDigest, user, requestId);
  }

  @Override
  public Future<Void> recordRejection(String repository, String user, Rejection rejection) {
    return call("recordRejection", Future::succeededFuture, repository, user, rejection);
  }

  @Override
  public Future<Long> sizeOf(String namespace, String digest) {
    return call("sizeOf", () -> Future.succeededFuture(-1L), namespace, digest);
  }

  @Override
  public Future<Boolean> namespaceKnown(String namespace) {
    return call("namespaceKnown", () -> Future.succeededFuture(true), namespace);
  }

  @Override
  public void requestEnded(String requestId) {
    call("requestEnded", Future::succeededFuture, requestId);
  }

  @Override
  public Future<Void> intendCommit(String repository, String requestId, String sessionId, String digest) {
    return call("intendCommit", Future::succeededFuture, repository, requestId, sessionId, digest);
  }

  @Override
  public Future<Void> intendDelete(String repository, String requestId, String digest, boolean manifest) {
    return call("intendDelete", Future::succeededFuture, repository, requestId, digest, manifest);
  }

  @Override
  public Future<Void> intendManifest(String repository, String requestId, Blob manifest, List<Blob> references) {
    return call("intendManifest", Future::succeededFuture, repository, requestId, manifest, references);
  }

  @Override
  public Future<Map<String, Long>> sizesOf(String namespace, List<String> digests) {
    return call("sizesOf", () -> {
      Map<String, Long> unknown = new LinkedHashMap<>();
      digests.forEach(digest -> unknown.put(digest, -1L));
      return Future.succeededFuture(unknown);
    }, namespace, digests);
  }

  @Override
  public Future<EgressGrant> reserveEgress(String repository, long bytes) {
    return call("reserveEgress", () -> Future.succeededFuture(new EgressGrant(true, bytes, List.of("window"), null)),
        repository, bytes);
  }

  @Override
  public Future<Void> settleEgress(String repository, EgressGrant grant, long sentBytes) {
    return call("settleEgress", Future::succeededFuture, repository, grant, sentBytes);
  }

  @Override
  public Future<Void> meter(String repository, String user, Traffic traffic) {
    return call("meter", Future::succeededFuture, repository, user, traffic);
  }

  @Override
  public Future<ScopeState> scope(String scope) {
    return call("scope", () -> notForRules("scope"), scope);
  }

}
