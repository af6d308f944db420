package dev.quotaproxy.config;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The proxy's typed configuration, built from the settings catalog and checked as a whole. */
public record ProxyConfig(Listen listen, Upstream upstream, int eventLoops) {

  public record Listen(String host, int port, Optional<Tls> tls, boolean trustForwardedHeaders, Duration idleTimeout) {
    public String scheme() {
      return tls.isPresent() ? "https" : "http";
    }
  }

  /** PEM certificate chain and PEM private key (PKCS#8 or PKCS#1) served by the listener. */
  public record Tls(Path certificateChain, Path privateKey) {}

  public record Upstream(
      URI origin,
      Optional<Path> caCertificates,
      int poolSize,
      int maxWaiting,
      Duration connectTimeout,
      Duration idleTimeout) {

    public boolean secure() {
      return origin.getScheme().equals("https");
    }

    public int port() {
      return origin.getPort() != -1 ? origin.getPort() : secure() ? 443 : 80;
    }
  }

  public static final Setting<URI> UPSTREAM_URL = Setting.required("upstream.url", "URL",
      "Origin of the registry behind the proxy, e.g. http://127.0.0.1:5000 or https://registry.internal.",
      Parsers.httpOrigin(), "--upstream");
  public static final Setting<Path> UPSTREAM_CA = Setting.optional("upstream.ca", "FILE",
      "PEM file of CA certificates that an https upstream's certificate must chain to, instead of the system trust store.",
      Parsers.readableFile());
  public static final Setting<Integer> UPSTREAM_POOL_SIZE = Setting.withDefault("upstream.pool-size", "N",
      "Connections to the upstream per event loop. Blob transfers hold a connection for their whole length, so this is far above HTTP clients' usual 5.",
      "64", Parsers.intBetween(1, 10_000));
  public static final Setting<Integer> UPSTREAM_MAX_WAITING = Setting.withDefault("upstream.max-waiting", "N",
      "Requests per event loop that may wait for a free upstream connection; beyond it the proxy answers 503 UNAVAILABLE with Retry-After.",
      "1024", Parsers.intBetween(0, 1_000_000));
  public static final Setting<Duration> UPSTREAM_CONNECT_TIMEOUT = Setting.withDefault("upstream.connect-timeout", "DURATION",
      "How long to wait for a TCP (and TLS) connection to the upstream before answering 502.",
      "5s", Parsers.duration(Duration.ofMillis(1)));
  public static final Setting<Duration> UPSTREAM_IDLE_TIMEOUT = Setting.withDefault("upstream.idle-timeout", "DURATION",
      "How long an exchange may move no bytes in either direction; before the upstream answers this is a 504, during a transfer both sides are closed.",
      "60s", Parsers.duration(Duration.ofMillis(1)));
  public static final Setting<String> LISTEN_HOST = Setting.withDefault("listen.host", "ADDRESS",
      "Address the proxy listens on.", "0.0.0.0", Parsers.text(), "--host");
  public static final Setting<Integer> LISTEN_PORT = Setting.withDefault("listen.port", "PORT",
      "Port the proxy listens on; 0 takes any free port.", "8080", Parsers.intBetween(0, 65535), "--port");
  public static final Setting<Path> LISTEN_TLS_CERT = Setting.optional("listen.tls.cert", "FILE",
      "PEM certificate chain to serve HTTPS with (give listen.tls.key too). Docker refuses plain HTTP to any registry that is not on localhost.",
      Parsers.readableFile());
  public static final Setting<Path> LISTEN_TLS_KEY = Setting.optional("listen.tls.key", "FILE",
      "PEM private key of listen.tls.cert.", Parsers.readableFile());
  public static final Setting<Boolean> LISTEN_TRUST_FORWARDED = Setting.withDefault("listen.trust-forwarded-headers", "true|false",
      "Keep the X-Forwarded-Host/-Proto/-For a load balancer in front of the proxy sets, instead of replacing them.",
      "false", Parsers.bool());
  public static final Setting<Duration> LISTEN_IDLE_TIMEOUT = Setting.withDefault("listen.idle-timeout", "DURATION",
      "How long a client connection may stay idle before the proxy closes it.", "120s", Parsers.duration(Duration.ofSeconds(1)));
  public static final Setting<Integer> EVENT_LOOPS = Setting.withDefault("proxy.event-loops", "N",
      "Event loops, each running one proxy verticle with its own upstream pool. Default: one per CPU core.",
      String.valueOf(Runtime.getRuntime().availableProcessors()), Parsers.intBetween(1, 1024));

  public static final List<Setting<?>> CATALOG = List.of(
      UPSTREAM_URL, UPSTREAM_CA, UPSTREAM_POOL_SIZE, UPSTREAM_MAX_WAITING, UPSTREAM_CONNECT_TIMEOUT, UPSTREAM_IDLE_TIMEOUT,
      LISTEN_HOST, LISTEN_PORT, LISTEN_TLS_CERT, LISTEN_TLS_KEY, LISTEN_TRUST_FORWARDED, LISTEN_IDLE_TIMEOUT,
      EVENT_LOOPS);

  public static SettingsLoader loader() {
    return new SettingsLoader(CATALOG);
  }

  /** Loads and checks everything; throws {@link ConfigurationException} listing every problem. */
  public static ProxyConfig load(List<String> args, Map<String, String> env) {
    return from(loader().load(args, env));
  }

  static ProxyConfig from(Settings s) {
    List<String> problems = new ArrayList<>();
    Optional<Path> cert = s.find(LISTEN_TLS_CERT);
    Optional<Path> key = s.find(LISTEN_TLS_KEY);
    if (cert.isPresent() != key.isPresent()) {
      problems.add("listen.tls.cert and listen.tls.key go together: set both to serve HTTPS, or neither");
    }
    URI origin = s.get(UPSTREAM_URL);
    if (s.find(UPSTREAM_CA).isPresent() && !origin.getScheme().equals("https")) {
      problems.add("upstream.ca (from " + s.sourceOf(UPSTREAM_CA) + ") is only used with an https:// upstream.url, but it is " + origin);
    }
    if (!problems.isEmpty()) {
      throw new ConfigurationException(problems);
    }
    Optional<Tls> tls = cert.flatMap(c -> key.map(k -> new Tls(c, k)));
    return new ProxyConfig(
        new Listen(s.get(LISTEN_HOST), s.get(LISTEN_PORT), tls, s.get(LISTEN_TRUST_FORWARDED), s.get(LISTEN_IDLE_TIMEOUT)),
        new Upstream(origin, s.find(UPSTREAM_CA), s.get(UPSTREAM_POOL_SIZE), s.get(UPSTREAM_MAX_WAITING),
            s.get(UPSTREAM_CONNECT_TIMEOUT), s.get(UPSTREAM_IDLE_TIMEOUT)),
        s.get(EVENT_LOOPS));
  }
}
