package dev.quotaproxy.ledger.limits;

import dev.quotaproxy.config.SystemSettings;
import java.util.Optional;

/**
 * Whether top-level hard limits add up to more than the system's {@code hard_storage}. Only finite
 * limits are summed: an unlimited namespace is bounded by the system's read-only switch, not by a
 * promise of bytes. With {@code hard_storage} unlimited or {@code allow_overcommit} on nothing is
 * refused. A change is refused only when it makes things worse, so a system that is already
 * overcommitted (by its configuration file, or before overcommit was turned off) can still be brought
 * back under. Pure.
 */
public final class Overcommit {
  private Overcommit() {}

  /**
   * The numbers of a refusal.
   *
   * @param sum         what the top-level hard limits would add up to
   * @param hardStorage the system's hard storage
   * @param requested   the hard limit (or hard storage) asked for
   */
  public record Refusal(long sum, long hardStorage, long requested) {}

  /** Thrown inside the transaction that would overcommit; nothing was written. */
  public static final class OvercommitException extends RuntimeException {
    private final Refusal refusal;

    public OvercommitException(Refusal refusal, String message) {
      super(message);
      this.refusal = refusal;
    }

    public Refusal refusal() {
      return refusal;
    }
  }

  public static boolean topLevel(String scope) {
    return scope.indexOf('/') < 0;
  }

  /**
   * A top-level scope's hard limit going from {@code previousHard} to {@code requestedHard}, the other
   * top-level scopes' finite hard limits adding up to {@code othersSum}.
   */
  public static Optional<Refusal> ofLimit(SystemSettings system, long othersSum, long previousHard, long requestedHard) {
    if (system.allowOvercommit() || system.hardStorage() < 0 || requestedHard < 0) {
      return Optional.empty();
    }
    long before = othersSum + Math.max(previousHard, 0);
    long after = othersSum + requestedHard;
    return after > system.hardStorage() && after > before
        ? Optional.of(new Refusal(after, system.hardStorage(), requestedHard))
        : Optional.empty();
  }

  /** System settings changing from {@code before} to {@code after}, the top-level finite hard limits adding up to {@code sum}. */
  public static Optional<Refusal> ofSettings(SystemSettings before, SystemSettings after, long sum) {
    if (!overcommitted(after, sum)) {
      return Optional.empty();
    }
    boolean worse = !overcommitted(before, sum) || after.hardStorage() < before.hardStorage();
    return worse ? Optional.of(new Refusal(sum, after.hardStorage(), after.hardStorage())) : Optional.empty();
  }

  private static boolean overcommitted(SystemSettings system, long sum) {
    return !system.allowOvercommit() && system.hardStorage() >= 0 && sum > system.hardStorage();
  }
}
