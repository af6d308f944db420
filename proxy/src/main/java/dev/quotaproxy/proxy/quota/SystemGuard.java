package dev.quotaproxy.proxy.quota;

import dev.quotaproxy.proxy.route.OciError;
import dev.quotaproxy.config.SystemSettings;
import dev.quotaproxy.metering.SystemUsage;
import java.util.Optional;

/**
 * The system scope's state as last read from the store, shared by every event loop of the process.
 * System usage spans all namespaces, which live in different Redis slots, so it is summed
 * periodically rather than inside each decision: the read-only switch can lag by one refresh.
 *
 * <p>Until a refresh has summed it over a complete list of namespaces (at start, and after Redis lost
 * the list: see {@link QuotaKeys#CENSUS_PREFIX}), system usage is unknown and pushes fail closed, as
 * they do on a namespace whose state is unknown: a registry that was read-only must not take pushes
 * because a lost sum reads 0.
 */
public final class SystemGuard {
  /** What the last refresh found. */
  public record Snapshot(boolean known, SystemUsage usage, SystemSettings settings) {
    static final Snapshot UNKNOWN = new Snapshot(false, new SystemUsage(0, 0), SystemSettings.DEFAULTS);

    public Snapshot(SystemUsage usage, SystemSettings settings) {
      this(true, usage, settings);
    }

    /** The write ratio is reached (or read-only was forced): pushes are refused until usage falls below it. */
    public boolean readOnly() {
      return settings.readOnlyForced() || settings.hardStorage() > 0 && usageRatio() >= settings.writeRatio();
    }

    public double usageRatio() {
      return settings.hardStorage() > 0 ? (double) usage.used() / settings.hardStorage() : 0;
    }
  }

  private volatile Snapshot snapshot = Snapshot.UNKNOWN;

  public Snapshot snapshot() {
    return snapshot;
  }

  public void update(SystemUsage usage, SystemSettings settings) {
    snapshot = new Snapshot(usage, settings);
  }

  /** The store lost what the sum is made of: pushes wait (503) for the next complete refresh. */
  public void unknown() {
    Snapshot last = snapshot;
    snapshot = new Snapshot(false, last.usage(), last.settings());
  }

  /** The refusal for a push while the registry is read-only; empty when writable or unknown. */
  public Optional<OciError> readOnlyRefusal() {
    Snapshot current = snapshot;
    return current.known() && current.readOnly()
        ? Optional.of(QuotaErrors.registryReadOnly(current.usage().used(), current.settings()))
        : Optional.empty();
  }
}
