package dev.quotaproxy.proxy.quota;

import dev.quotaproxy.proxy.oci.OciError;
import dev.quotaproxy.proxy.quota.QuotaStore.SystemSettings;
import dev.quotaproxy.proxy.quota.QuotaStore.SystemUsage;
import java.util.Optional;

/**
 * The system scope's state as last read from the store, shared by every event loop of the process.
 * System usage spans all namespaces, which live in different Redis slots, so it is summed
 * periodically rather than inside each decision: the read-only switch can lag by one refresh.
 */
public final class SystemGuard {
  /** What the last refresh found; before the first, nothing used and the default settings. */
  public record Snapshot(SystemUsage usage, SystemSettings settings) {
    static final Snapshot UNKNOWN = new Snapshot(new SystemUsage(0, 0), SystemSettings.DEFAULTS);

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

  /** The refusal for a push while the registry is read-only. */
  public Optional<OciError> readOnlyRefusal() {
    Snapshot current = snapshot;
    return current.readOnly() ? Optional.of(QuotaErrors.registryReadOnly(current.usage().used(), current.settings())) : Optional.empty();
  }
}
