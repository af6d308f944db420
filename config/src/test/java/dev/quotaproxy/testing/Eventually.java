package dev.quotaproxy.testing;

import io.vertx.core.Future;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The one way the tests wait: {@link #eventually} retries an assertion until it passes or the time runs
 * out, and then throws the assertion's last failure; {@link #await} takes a Vert.x future's result,
 * failing the test if none comes in time. Every module's tests use these, not a loop of their own.
 *
 * <p>Where it lives: in the config module's test-jar (only {@code dev/quotaproxy/testing/**}), declared
 * as a test-scoped {@code test-jar} dependency by the modules that wait. The project already shares
 * test support that way (the ledger module's real registry), so this adds no new kind of machinery, and
 * it is a few dozen lines of our own where Awaitility would bring a library (and Hamcrest) that is not
 * in the offline repository, whose timeout wraps the assertion in its own exception, and which has
 * nothing for a Vert.x future. Config is the lowest module, so every other can use it.
 *
 * <p>What may be retried: an {@link AssertionError} means "not yet"; anything else the assertion throws
 * (a dead process, an I/O error that is not a "not listening yet") ends the wait at once, as a loop
 * would have. An assertion that wants to retry on an exception catches it and fails instead.
 */
public final class Eventually {
  /** How often {@link #eventually(Duration, ThrowingRunnable)} tries again. */
  public static final Duration POLL = Duration.ofMillis(50);
  /** How long {@link #await} waits for a future's result. */
  public static final Duration AWAIT = Duration.ofSeconds(30);

  private Eventually() {
  }

  /** An assertion, or any step that may throw; {@code E} is what it throws besides assertion failures and interruption. */
  @FunctionalInterface
  public interface ThrowingRunnable<E extends Exception> {
    void run() throws E, InterruptedException;
  }

  /** A step that yields a value once it stops failing its assertions. */
  @FunctionalInterface
  public interface ThrowingSupplier<T, E extends Exception> {
    T get() throws E, InterruptedException;
  }

  /** Runs the assertion every {@link #POLL} until it passes; after the timeout, throws its last failure. */
  public static <E extends Exception> void eventually(Duration timeout, ThrowingRunnable<E> assertion)
      throws E, InterruptedException {
    eventually(timeout, POLL, assertion);
  }

  /** As {@link #eventually(Duration, ThrowingRunnable)}, trying again every {@code poll}. */
  public static <E extends Exception> void eventually(Duration timeout, Duration poll, ThrowingRunnable<E> assertion)
      throws E, InterruptedException {
    ThrowingSupplier<Void, E> step = () -> {
      assertion.run();
      return null;
    };
    eventuallyGet(timeout, poll, step);
  }

  /** The value the step yields the first time it does not fail an assertion; after the timeout, its last failure. */
  public static <T, E extends Exception> T eventuallyGet(Duration timeout, ThrowingSupplier<T, E> step)
      throws E, InterruptedException {
    return eventuallyGet(timeout, POLL, step);
  }

  /** As {@link #eventuallyGet(Duration, ThrowingSupplier)}, trying again every {@code poll}. */
  public static <T, E extends Exception> T eventuallyGet(Duration timeout, Duration poll, ThrowingSupplier<T, E> step)
      throws E, InterruptedException {
    long started = System.nanoTime();
    long deadline = started + timeout.toNanos();
    int tries = 0;
    while (true) {
      tries++;
      try {
        return step.get();
      } catch (AssertionError notYet) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          notYet.addSuppressed(new TimeoutException("still failing after " + tries + " tries in "
              + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started) + " ms (timeout " + timeout + ")"));
          throw notYet;
        }
        TimeUnit.NANOSECONDS.sleep(Math.min(poll.toNanos(), left));
      }
    }
  }

  /** The future's result, waiting at most {@link #AWAIT}; its failure is thrown as it is. */
  public static <T> T await(Future<T> future) {
    try {
      return future.await(AWAIT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw new AssertionError("no result within " + AWAIT, e);
    }
  }
}
