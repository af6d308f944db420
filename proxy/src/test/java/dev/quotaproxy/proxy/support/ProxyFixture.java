package dev.quotaproxy.proxy.support;

import dev.quotaproxy.metering.support.StoreOnRedis;
import dev.quotaproxy.metering.sync.RegistryIntents;
import dev.quotaproxy.proxy.quota.ConfiguredQuotas;
import dev.quotaproxy.metering.QuotaStore;
import dev.quotaproxy.proxy.support.QuotaHarness.Deployed;
import dev.quotaproxy.proxy.support.QuotaHarness.LedgerSide;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.redis.client.Redis;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The setup most proxy tests share: a {@link QuotaHarness} (real registry, real Redis) with one proxy
 * started on the given limits, and optionally the ledger in a real Postgres behind it. A JUnit extension:
 *
 * <pre>{@code
 * @RegisterExtension final ProxyFixture proxy = ProxyFixture.acme("10MiB");        // fresh for each test
 * @RegisterExtension static final ProxyFixture proxy = ProxyFixture.of(LIMITS);    // once for the class
 * }</pre>
 *
 * <p>An instance field starts everything before each test and closes it after; a static field, once
 * for the class. The fixture answers as the proxy does ({@link #client()}, {@link #store()},
 * {@link #configured()}), so a test names it {@code proxy}, and reaches the rest through
 * {@link #harness()} and {@link #ledger()}. The extension's start runs before the test class's own
 * {@code @BeforeEach} (or {@code @BeforeAll}), its close after the class's {@code @AfterEach}.
 */
public final class ProxyFixture implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback, AfterEachCallback {
  private final String yaml;
  private final String[] flags;
  private boolean withLedger;
  private boolean perClass;

  private QuotaHarness harness;
  private Path postgresData;
  private LedgerSide ledger;
  private Deployed deployed;

  private ProxyFixture(String yaml, String[] flags) {
    this.yaml = yaml;
    this.flags = flags;
  }

  /** A proxy on the given YAML (limits under quota.scopes, system settings) and extra flags. */
  public static ProxyFixture of(String yaml, String... flags) {
    return new ProxyFixture(yaml, flags);
  }

  /** A proxy whose one configured scope is {@code acme}, with the given hard storage limit ({@code 10MiB}). */
  public static ProxyFixture acme(String storageHard, String... flags) {
    return of("""
        quota:
          scopes:
            acme: {storage-hard: %s}
        """.formatted(storageHard), flags);
  }

  /** Puts the ledger, in a real Postgres in a temporary directory, behind the proxy ({@link QuotaHarness#withLedger}). */
  public ProxyFixture withLedger() {
    this.withLedger = true;
    return this;
  }

  @Override
  public void beforeAll(ExtensionContext context) throws Exception {
    perClass = true;
    start();
  }

  @Override
  public void beforeEach(ExtensionContext context) throws Exception {
    if (!perClass) {
      start();
    }
  }

  @Override
  public void afterEach(ExtensionContext context) throws Exception {
    if (!perClass) {
      stop();
    }
  }

  @Override
  public void afterAll(ExtensionContext context) throws Exception {
    stop();
  }

  private void start() throws Exception {
    harness = new QuotaHarness();
    if (withLedger) {
      postgresData = Files.createTempDirectory("proxy-fixture-postgres");
      ledger = harness.withLedger(postgresData, 0);
    }
    deployed = harness.startProxy(yaml, flags);
  }

  private void stop() throws Exception {
    try {
      if (harness != null) {
        harness.close();
      }
    } finally {
      harness = null;
      ledger = null;
      deployed = null;
      if (postgresData != null) {
        try (var files = Files.walk(postgresData)) {
          files.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        }
        postgresData = null;
      }
    }
  }

  public QuotaHarness harness() {
    return harness;
  }

  /** The ledger side; only with {@link #withLedger()}. */
  public LedgerSide ledger() {
    if (ledger == null) {
      throw new IllegalStateException("no ledger: this fixture was not made withLedger()");
    }
    return ledger;
  }

  /** Where the ledger's Postgres keeps its data (to start it again on the same files); only with {@link #withLedger()}. */
  public Path postgresData() {
    ledger();
    return postgresData;
  }

  public Deployed deployed() {
    return deployed;
  }

  public OciTestClient client() {
    return deployed.client();
  }

  public QuotaStore store() {
    return deployed.store();
  }

  /** The store's parts: request path, limit writes, the scan over all namespaces, leases. */
  public StoreOnRedis stores() {
    return deployed.stores();
  }

  public ConfiguredQuotas configured() {
    return deployed.configured();
  }

  /** The storage invariant between the registry's files and this proxy's store, naming the digests charged in Redis. */
  public StorageInvariant invariant() {
    return StorageInvariant.of(harness.registry().storage(), stores()).withChargedDigestsFrom(harness.redis());
  }

  /** The intents check as a proxy runs it: on this proxy's store, asking the registry with HEAD. */
  public RegistryIntents intents() {
    return intents(stores());
  }

  /** The intents check as the proxy on {@code stores} runs it (settling its own requests' intents too). */
  public RegistryIntents intents(StoreOnRedis stores) {
    URI registry = URI.create(harness.registry().url());
    return new RegistryIntents(stores.store(), stores.leases(), Redis.createClient(harness.vertx(), harness.redis().url()),
        RegistryIntents.headOn(harness.vertx().createHttpClient(new HttpClientOptions()
            .setDefaultHost(registry.getHost()).setDefaultPort(registry.getPort()))));
  }
}
