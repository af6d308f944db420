package dev.quotaproxy.config;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The value types settings are made of. Each parser's exception message is shown to the operator. */
public final class Parsers {
  private static final Pattern DURATION = Pattern.compile("(\\d+)\\s*(ms|s|m|h|d)");

  private Parsers() {}

  public static ValueParser<String> text() {
    return text -> {
      if (text.isBlank()) {
        throw new IllegalArgumentException("must not be empty");
      }
      return text.trim();
    };
  }

  public static ValueParser<Integer> intBetween(int min, int max) {
    return text -> {
      int value;
      try {
        value = Integer.parseInt(text.trim());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("must be a whole number");
      }
      if (value < min || value > max) {
        throw new IllegalArgumentException("must be between " + min + " and " + max);
      }
      return value;
    };
  }

  public static ValueParser<Boolean> bool() {
    return text -> switch (text.trim().toLowerCase(Locale.ROOT)) {
      case "true", "yes", "on" -> true;
      case "false", "no", "off" -> false;
      default -> throw new IllegalArgumentException("must be true or false");
    };
  }

  /** "250ms", "30s", "5m", "1h", "1d": a unit is required so that "30" is never misread. */
  public static ValueParser<Duration> duration(Duration min) {
    return text -> {
      Matcher m = DURATION.matcher(text.trim());
      if (!m.matches()) {
        throw new IllegalArgumentException("must be a duration with a unit, like 500ms, 30s, 5m, 1h or 1d");
      }
      long amount = Long.parseLong(m.group(1));
      Duration d = switch (m.group(2)) {
        case "ms" -> Duration.ofMillis(amount);
        case "s" -> Duration.ofSeconds(amount);
        case "m" -> Duration.ofMinutes(amount);
        case "h" -> Duration.ofHours(amount);
        default -> Duration.ofDays(amount);
      };
      if (d.compareTo(min) < 0) {
        throw new IllegalArgumentException("must be at least " + min.toMillis() + "ms");
      }
      return d;
    };
  }

  /** An absolute http:// or https:// URL naming a host, with no path beyond "/", query or fragment. */
  public static ValueParser<URI> httpOrigin() {
    return text -> {
      URI uri;
      try {
        uri = new URI(text.trim());
      } catch (URISyntaxException e) {
        throw new IllegalArgumentException("is not a URL: " + e.getReason());
      }
      String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
      if (!scheme.equals("http") && !scheme.equals("https")) {
        throw new IllegalArgumentException("must start with http:// or https://");
      }
      if (uri.getHost() == null) {
        throw new IllegalArgumentException("must name a host, like http://registry.example:5000");
      }
      String path = uri.getRawPath();
      if ((path != null && !path.isEmpty() && !path.equals("/")) || uri.getRawQuery() != null || uri.getRawFragment() != null) {
        throw new IllegalArgumentException("must be the registry's origin only (scheme, host, port): the /v2/ API is found under it");
      }
      if (uri.getUserInfo() != null) {
        throw new IllegalArgumentException("must not carry credentials: clients send their own");
      }
      try {
        return new URI(scheme, null, uri.getHost(), uri.getPort(), null, null, null);
      } catch (URISyntaxException e) {
        throw new IllegalArgumentException("is not a URL: " + e.getReason());
      }
    };
  }

  /** A path to a file that exists and can be read now, so a typo fails at start, not at the first TLS handshake. */
  public static ValueParser<Path> readableFile() {
    return text -> {
      Path path = Path.of(text.trim());
      if (!Files.isRegularFile(path)) {
        throw new IllegalArgumentException("no such file: " + path.toAbsolutePath());
      }
      if (!Files.isReadable(path)) {
        throw new IllegalArgumentException("file is not readable: " + path.toAbsolutePath());
      }
      return path;
    };
  }
}
