package dev.quotaproxy.proxy.support;

import dev.quotaproxy.metering.support.TestRedis;
import static dev.quotaproxy.testing.Eventually.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.config.ByteSize;
import dev.quotaproxy.metering.QuotaKeys;
import dev.quotaproxy.config.SystemSettings;
import dev.quotaproxy.metering.QuotaStore.ScopeState;
import dev.quotaproxy.metering.SystemUsage;
import dev.quotaproxy.metering.support.StoreOnRedis;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * The product's invariant (PRODUCT.md, Threat model), checked between the registry's storage and the
 * proxy's store: for every scope S, whenever no upload is in flight,
 * <ul>
 *   <li>the bytes the registry holds under S are at most S's hard limit, where one is set (except bytes
 *       that were there before the limit was lowered: {@link #allowingPreExisting}); and
 *   <li>the proxy's charge for S (its {@code used} bytes in the store) equals the bytes the registry
 *       holds under S.
 * </ul>
 * "Holds" is {@link RegistryStorage}'s reading of the files (see its rules). The scopes checked are
 * every scope a repository of the registry belongs to, every scope the store knows (usage,
 * reservations or limits: {@link dev.quotaproxy.metering.UsageReader#scopes()}), and the system scope (the store's
 * system usage against the distinct bytes of all repositories, and its {@code hard_storage}).
 *
 * <p>A failure lists each scope that breaks it: the charged and held figures, the limit, what is
 * reserved and in open uploads, each held digest with its size and repositories, and, given the
 * store's Redis ({@link #withChargedDigestsFrom}), which digests are held but not charged and the
 * reverse: what leaked.
 */
public final class StorageInvariant {
  private final Path registryStorage;
  private final StoreOnRedis stores;
  private final Map<String, Long> preExisting = new HashMap<>();
  private TestRedis redis;

  /**
   * One scope's figures.
   *
   * @param scope        the scope, {@link RegistryStorage#SYSTEM} for the system scope
   * @param charged      the store's used bytes
   * @param held         bytes the registry holds under the scope
   * @param hardLimit    the store's hard limit, -1 for none
   * @param preExisting  bytes allowed over the limit (there before it was lowered)
   * @param reserved     the store's reserved bytes (not part of the invariant: reported)
   * @param openUploads  bytes in the registry's open upload sessions under the scope (reported)
   * @param heldDigests  what the registry holds under the scope
   */
  public record ScopeFigures(String scope, long charged, long held, long hardLimit, long preExisting, long reserved,
      long openUploads, Set<String> heldDigests) {
    public boolean chargeMatches() {
      return charged == held;
    }

    public boolean withinLimit() {
      return hardLimit < 0 || held <= Math.max(hardLimit, preExisting);
    }

    public boolean holds() {
      return chargeMatches() && withinLimit();
    }
  }

  private StorageInvariant(Path registryStorage, StoreOnRedis stores) {
    this.registryStorage = registryStorage;
    this.stores = stores;
  }

  /** The invariant between the registry storage at {@code registryStorage} ({@code RealRegistry.storage()}) and the store. */
  public static StorageInvariant of(Path registryStorage, StoreOnRedis stores) {
    return new StorageInvariant(registryStorage, stores);
  }

  /** Checks it with no pre-existing bytes allowed anywhere. */
  public static void check(Path registryStorage, StoreOnRedis stores) throws Exception {
    of(registryStorage, stores).check();
  }

  /** Lets the scope hold up to {@code bytes} over its hard limit: bytes it held before the limit was lowered. */
  public StorageInvariant allowingPreExisting(String scope, long bytes) {
    preExisting.put(scope, bytes);
    return this;
  }

  /**
   * Reads the store's per-scope digests from its Redis for the failure message (which digests are
   * charged): diagnostics only, best effort, never part of the verdict.
   */
  public StorageInvariant withChargedDigestsFrom(TestRedis redis) {
    this.redis = redis;
    return this;
  }

  /** Asserts the invariant for every scope; the failure says, per broken scope, what leaked. */
  public List<ScopeFigures> check() throws Exception {
    RegistryStorage registry = RegistryStorage.read(registryStorage);
    List<ScopeFigures> figures = figures(registry);
    List<ScopeFigures> broken = figures.stream().filter(f -> !f.holds()).toList();
    assertThat(broken).withFailMessage(() -> message(registry, broken)).isEmpty();
    return figures;
  }

  /** Every scope's figures, without judging them. */
  public List<ScopeFigures> figures() throws Exception {
    return figures(RegistryStorage.read(registryStorage));
  }

  private List<ScopeFigures> figures(RegistryStorage registry) throws Exception {
    Set<String> scopes = new TreeSet<>(registry.scopes());
    await(stores.usage().scopes()).forEach(state -> scopes.add(state.scope()));
    scopes.remove(RegistryStorage.SYSTEM);
    List<ScopeFigures> figures = new ArrayList<>();
    for (String scope : scopes) {
      ScopeState state = await(stores.store().scope(scope));
      figures.add(new ScopeFigures(scope, state.used(), registry.heldBytes(scope), state.limits().storageHard(),
          preExisting.getOrDefault(scope, 0L), state.reserved(), registry.openUploadBytes(scope), registry.held(scope)));
    }
    SystemUsage system = await(stores.usage().systemUsage());
    long systemHard = await(stores.limits().systemSettings()).map(SystemSettings::hardStorage).orElse(-1L);
    figures.add(new ScopeFigures(RegistryStorage.SYSTEM, system.used(), registry.heldBytes(RegistryStorage.SYSTEM), systemHard,
        preExisting.getOrDefault(RegistryStorage.SYSTEM, 0L), system.reserved(), registry.openUploadBytes(RegistryStorage.SYSTEM),
        registry.held(RegistryStorage.SYSTEM)));
    return figures;
  }

  private String message(RegistryStorage registry, List<ScopeFigures> broken) {
    StringBuilder message = new StringBuilder("storage invariant broken in ").append(broken.size())
        .append(broken.size() == 1 ? " scope" : " scopes")
        .append(" (charge must equal the bytes the registry holds, and those must fit the hard limit; registry storage ")
        .append(registry.root()).append("):");
    for (ScopeFigures f : broken) {
      message.append("\n  ").append(name(f.scope())).append(": charged ").append(bytes(f.charged()))
          .append(", registry holds ").append(bytes(f.held()))
          .append(f.hardLimit() < 0 ? ", no hard limit" : ", hard limit " + bytes(f.hardLimit()))
          .append(f.preExisting() > 0 ? ", pre-existing allowed " + bytes(f.preExisting()) : "");
      if (!f.chargeMatches()) {
        long off = f.charged() - f.held();
        message.append("\n    charge is ").append(off > 0 ? "over" : "under").append(" the registry by ").append(bytes(Math.abs(off)));
      }
      if (!f.withinLimit()) {
        message.append("\n    the registry holds ").append(bytes(f.held() - Math.max(f.hardLimit(), f.preExisting())))
            .append(" past the limit");
      }
      message.append("\n    reserved ").append(bytes(f.reserved())).append(", open uploads ").append(bytes(f.openUploads()));
      message.append("\n    held:\n").append(registry.describe(f.scope()));
      if (!f.scope().equals(RegistryStorage.SYSTEM)) {
        message.append(chargedDigests(registry, f));
      }
    }
    return message.toString();
  }

  /** Which digests the store charges the scope for, against what the registry holds; best effort. */
  private String chargedDigests(RegistryStorage registry, ScopeFigures f) {
    if (redis == null) {
      return "";
    }
    try {
      QuotaKeys keys = QuotaKeys.of(f.scope());
      Map<String, Long> charged = new TreeMap<>();
      Response present = redis.command(Request.cmd(Command.HGETALL).arg(keys.present(f.scope())));
      for (String digest : fields(present)) {
        Response size = redis.command(Request.cmd(Command.HGET).arg(keys.sizes()).arg(digest));
        charged.put(digest, size == null ? -1 : size.toLong());
      }
      Set<String> notCharged = new TreeSet<>(f.heldDigests());
      notCharged.removeAll(charged.keySet());
      String chargedNotHeld = charged.entrySet().stream().filter(e -> !f.heldDigests().contains(e.getKey()))
          .map(e -> e.getKey() + " (charged " + e.getValue() + ", registry data " + registry.size(e.getKey()) + ")")
          .collect(Collectors.joining(", "));
      String chargedSizeWrong = charged.entrySet().stream()
          .filter(e -> f.heldDigests().contains(e.getKey()) && e.getValue() != registry.size(e.getKey()))
          .map(e -> e.getKey() + " (charged " + e.getValue() + ", registry data " + registry.size(e.getKey()) + ")")
          .collect(Collectors.joining(", "));
      return "\n    held, not charged: " + (notCharged.isEmpty() ? "-" : String.join(", ", notCharged))
          + "\n    charged, not held: " + (chargedNotHeld.isEmpty() ? "-" : chargedNotHeld)
          + (chargedSizeWrong.isEmpty() ? "" : "\n    charged at another size: " + chargedSizeWrong);
    } catch (RuntimeException e) {
      return "\n    (charged digests not readable: " + e + ")";
    }
  }

  private static List<String> fields(Response hash) {
    List<String> fields = new ArrayList<>();
    if (hash == null) {
      return fields;
    }
    if (hash.isMap()) {
      fields.addAll(hash.getKeys());
    } else {
      for (int i = 0; i + 1 < hash.size(); i += 2) {
        fields.add(hash.get(i).toString());
      }
    }
    return fields;
  }

  private static String name(String scope) {
    return scope.equals(RegistryStorage.SYSTEM) ? "system scope" : "scope " + scope;
  }

  private static String bytes(long bytes) {
    return bytes + " (" + ByteSize.format(bytes) + ")";
  }
}
