package dev.quotaproxy.ledger.registry;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * How a {@link RegistryWalker} talks to the registry.
 *
 * @param registry    origin of the registry the proxy fronts ({@code http://127.0.0.1:5000}), talked to
 *                    directly: no credentials
 * @param concurrency requests in flight at most, over the whole walk
 * @param pageSize    {@code n} asked of {@code /v2/_catalog} and {@code /tags/list}; the registry may
 *                    answer fewer (distribution caps the catalog at 1000 by default) and links the next page
 * @param verifyBlobs whether every config and layer a manifest references is checked with a {@code HEAD}
 *                    in its repository: a blob deleted straight in the registry is still described by the
 *                    manifests that reference it, so only a HEAD shows it gone. Off, a walk costs a request
 *                    per manifest instead of per blob, and takes descriptor sizes on trust.
 * @param timeout     longest time one request may move no bytes
 */
public record WalkerOptions(URI registry, int concurrency, int pageSize, boolean verifyBlobs, Duration timeout,
    Optional<Path> caCertificates) {
  public static final int DEFAULT_CONCURRENCY = 8;
  public static final int DEFAULT_PAGE_SIZE = 1000;

  public WalkerOptions {
    String scheme = registry.getScheme();
    if (!"http".equals(scheme) && !"https".equals(scheme) || registry.getHost() == null) {
      throw new IllegalArgumentException("registry must be an http:// or https:// origin: " + registry);
    }
    if (concurrency < 1 || pageSize < 1) {
      throw new IllegalArgumentException("concurrency and pageSize must be at least 1");
    }
  }

  /** Eight requests in flight, pages of 1000, every blob checked, 30 s idle timeout. */
  public static WalkerOptions of(URI registry) {
    return new WalkerOptions(registry, DEFAULT_CONCURRENCY, DEFAULT_PAGE_SIZE, true, Duration.ofSeconds(30), Optional.empty());
  }

  public WalkerOptions withConcurrency(int concurrency) {
    return new WalkerOptions(registry, concurrency, pageSize, verifyBlobs, timeout, caCertificates);
  }

  public WalkerOptions withPageSize(int pageSize) {
    return new WalkerOptions(registry, concurrency, pageSize, verifyBlobs, timeout, caCertificates);
  }

  public WalkerOptions withVerifyBlobs(boolean verifyBlobs) {
    return new WalkerOptions(registry, concurrency, pageSize, verifyBlobs, timeout, caCertificates);
  }

  /** An https registry whose certificate chains to these PEM CAs instead of the system trust store. */
  public WalkerOptions withCaCertificates(Optional<Path> caCertificates) {
    return new WalkerOptions(registry, concurrency, pageSize, verifyBlobs, timeout, caCertificates);
  }

  boolean https() {
    return "https".equals(registry.getScheme());
  }

  int port() {
    return registry.getPort() != -1 ? registry.getPort() : https() ? 443 : 80;
  }
}
