package dev.quotaproxy.config;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * One webhook receiver of quota events, as the file gives it under {@code events.webhooks.<name>}.
 *
 * @param name        how the delivery log names it
 * @param scopePrefix the scope it is for, with every scope under it ('' for every scope)
 * @param url         where events are POSTed
 * @param secret      the key of the bodies' HMAC-SHA256 signature; never logged, never stored in Postgres
 * @param events      which events it takes
 */
public record WebhookEndpoint(String name, String scopePrefix, URI url, String secret, Set<QuotaEventType> events) {

  public WebhookEndpoint {
    events = Set.copyOf(events);
  }

  /** Secrets shorter than this are refused: a signature keyed by a guessable secret proves nothing. */
  static final int MIN_SECRET_LENGTH = 16;

  /**
   * Whether an event of {@code type} about {@code scope} (and, for a refusal, {@code repository}; null for none)
   * goes to this endpoint: its type is taken, and the scope or the repository is the prefix or under it. System
   * events (read-only, writable) concern every scope, so they go to every endpoint that takes them.
   */
  public boolean takes(QuotaEventType type, String scope, String repository) {
    if (!events.contains(type)) {
      return false;
    }
    return type.system() || under(scope) || repository != null && under(repository);
  }

  private boolean under(String scope) {
    return scopePrefix.isEmpty() || scope.equals(scopePrefix) || scope.startsWith(scopePrefix + "/");
  }

  /** Without the secret: configurations get logged. */
  @Override
  public String toString() {
    return "WebhookEndpoint[name=" + name + ", scopePrefix=" + scopePrefix + ", url=" + url + ", events=" + events + "]";
  }

  public static final Setting<String> SCOPE_PREFIX = Setting.optional("scope-prefix", "SCOPE",
      "The scope whose events go to this endpoint, with every scope under it (acme takes acme/team/app's). Unset: every scope.",
      Parsers.repositoryName());
  public static final Setting<URI> URL = Setting.optional("url", "URL",
      "Required: where events are POSTed, an http:// or https:// URL.", WebhookEndpoint::parseUrl);
  public static final Setting<String> SECRET = Setting.optional("secret", "SECRET",
      "Required: the key of the X-Quota-Signature HMAC-SHA256, at least 16 characters (openssl rand -hex 24).", Parsers.text());
  public static final Setting<Set<QuotaEventType>> EVENTS = Setting.withDefault("events", "EVENT,...",
      "Which events to send, comma-separated: QUOTA_WARNING, QUOTA_EXCEEDED, READ_ONLY, WRITABLE, EGRESS_LIMITED, or all.",
      "all", QuotaEventType::parseList);

  public static final List<Setting<?>> FIELDS = List.of(SCOPE_PREFIX, URL, SECRET, EVENTS);

  /** Checks the fields against each other; adds a problem and gives nothing when they disagree. */
  static Optional<WebhookEndpoint> from(MapSetting setting, String name, Settings entry, List<String> problems) {
    Optional<URI> url = entry.find(URL);
    Optional<String> secret = entry.find(SECRET);
    if (url.isEmpty()) {
      problems.add(setting.keyOf(name, URL) + " is missing: every webhook needs the URL events are sent to");
    }
    if (secret.isEmpty()) {
      problems.add(setting.keyOf(name, SECRET) + " is missing: every webhook needs the secret its bodies are signed with");
    } else if (secret.get().length() < MIN_SECRET_LENGTH) {
      problems.add(setting.keyOf(name, SECRET) + " is too short: at least " + MIN_SECRET_LENGTH + " characters");
      return Optional.empty();
    }
    if (url.isEmpty() || secret.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(new WebhookEndpoint(name, entry.find(SCOPE_PREFIX).orElse(""), url.get(), secret.get(), entry.get(EVENTS)));
  }

  private static URI parseUrl(String text) {
    URI uri;
    try {
      uri = new URI(text.trim());
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("is not a URL: " + e.getReason());
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    if (!scheme.equals("http") && !scheme.equals("https") || uri.getHost() == null) {
      throw new IllegalArgumentException("must be an http:// or https:// URL with a host, like https://hooks.example/quota");
    }
    if (uri.getRawFragment() != null) {
      throw new IllegalArgumentException("must not have a fragment");
    }
    return uri;
  }
}
