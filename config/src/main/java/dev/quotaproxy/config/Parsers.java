package dev.quotaproxy.config;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The value types settings are made of. Each parser's exception message is shown to the operator. */
public final class Parsers {
  private static final Pattern DURATION = Pattern.compile("(\\d+)\\s*(ms|s|m|h|d)");
  private static final Pattern PERCENT = Pattern.compile("(-?\\d+(?:\\.\\d+)?)\\s*%?");
  private static final Pattern REDIS_DATABASE = Pattern.compile("(?:/\\d*)?");
  private static final Pattern NAME_COMPONENT = Pattern.compile("[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*");
  /** Distribution refuses longer repository names; clients commonly limit to the same. */
  static final int MAX_REPOSITORY_NAME_LENGTH = 255;

  private Parsers() {}

  public static ValueParser<String> text() {
    return text -> {
      if (text.isBlank()) {
        throw new IllegalArgumentException("must not be empty");
      }
      return text.trim();
    };
  }

  /** A name an operator gives something (a token, a group): letters, digits, '.', '_' and '-'. */
  public static ValueParser<String> simpleName() {
    return text -> {
      String name = text.trim();
      if (!name.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,63}")) {
        throw new IllegalArgumentException("must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit");
      }
      return name;
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

  /** Like {@link #duration}, in whole seconds: for windows that are counted in, and aligned to, seconds. */
  public static ValueParser<Duration> wholeSeconds(Duration min) {
    ValueParser<Duration> duration = duration(min);
    return text -> {
      Duration d = duration.parse(text);
      if (d.toMillisPart() != 0) {
        throw new IllegalArgumentException("must be a whole number of seconds");
      }
      return d;
    };
  }

  /**
   * "95%" or "95" (also "99.5%"), as a fraction of one: 0.95. Over 100% is refused, and so is 0%: a
   * share of a limit is always some of it and never more than all of it.
   */
  public static ValueParser<Double> percent() {
    return text -> {
      Matcher m = PERCENT.matcher(text.trim());
      if (!m.matches()) {
        throw new IllegalArgumentException("must be a percentage like 95%");
      }
      double percent = Double.parseDouble(m.group(1));
      if (percent <= 0) {
        throw new IllegalArgumentException("must be more than 0%");
      }
      if (percent > 100) {
        throw new IllegalArgumentException("must be at most 100%");
      }
      return percent / 100;
    };
  }

  /**
   * A {@code redis://} or {@code rediss://} (TLS) URL naming a host, optionally with user and password
   * and a database number: {@code rediss://:secret@redis.internal:6380/2}. Query parameters are left
   * for the Redis client. Messages never repeat the URL, which may carry a password.
   */
  public static ValueParser<URI> redisUrl() {
    return text -> {
      URI uri = absoluteUri(text, "redis", "rediss", "must start with redis:// or rediss:// (TLS)", "redis://redis.internal:6379");
      String path = uri.getRawPath();
      if ((path != null && !REDIS_DATABASE.matcher(path).matches()) || uri.getRawFragment() != null) {
        throw new IllegalArgumentException("may have only a database number after the host, like redis://redis.internal:6379/0");
      }
      return uri;
    };
  }

  /**
   * Comma-separated {@code redis://} or {@code rediss://} URLs (the seeds of a Redis Cluster, or the
   * Sentinels), each checked as {@link #redisUrl()} checks one; at least one, none twice.
   */
  public static ValueParser<List<URI>> redisUrls() {
    ValueParser<URI> one = redisUrl();
    return text -> {
      List<URI> urls = new ArrayList<>();
      String[] parts = text.split(",", -1);
      for (int i = 0; i < parts.length; i++) {
        if (parts[i].isBlank()) {
          throw new IllegalArgumentException("must be URLs separated by single commas, like redis://10.0.0.1:6379,redis://10.0.0.2:6379");
        }
        URI url;
        try {
          url = one.parse(parts[i]);
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException("URL " + (i + 1) + " " + e.getMessage());
        }
        if (urls.contains(url)) {
          throw new IllegalArgumentException("URL " + (i + 1) + " is given twice");
        }
        urls.add(url);
      }
      return List.copyOf(urls);
    };
  }

  /** One of the given words, in any case: the lowercase word. */
  public static ValueParser<String> oneOf(String... words) {
    List<String> allowed = List.of(words);
    return text -> {
      String word = text.trim().toLowerCase(Locale.ROOT);
      if (!allowed.contains(word)) {
        throw new IllegalArgumentException("must be one of " + String.join(", ", allowed));
      }
      return word;
    };
  }

  /**
   * A {@code postgresql://} (or {@code postgres://}) URL naming a host, optionally with user, password
   * and database: {@code postgresql://quota:secret@db.internal:5432/ledger}.
   */
  public static ValueParser<URI> postgresUrl() {
    return text -> {
      URI uri = absoluteUri(text, "postgresql", "postgres", "must start with postgresql://", "postgresql://db.internal:5432/ledger");
      if (uri.getRawQuery() != null || uri.getRawFragment() != null) {
        throw new IllegalArgumentException("must be host, port and database only, like postgresql://user:password@db.internal:5432/ledger");
      }
      return uri;
    };
  }

  /** A URL with one of two schemes and a host; the messages say what was expected. */
  private static URI absoluteUri(String text, String scheme, String secureScheme, String schemeMessage, String example) {
    URI uri;
    try {
      uri = new URI(text.trim());
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("is not a URL: " + e.getReason());
    }
    String given = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    if (!given.equals(scheme) && !given.equals(secureScheme)) {
      throw new IllegalArgumentException(schemeMessage);
    }
    if (uri.getHost() == null) {
      throw new IllegalArgumentException("must name a host, like " + example);
    }
    return uri;
  }

  /**
   * An OCI repository name or a prefix of one: lowercase components of letters and digits, inner
   * separators '.', '_', '__' or dashes, joined by '/'. The distribution-spec grammar, so that every
   * name a registry accepts can be given, and a name it would refuse is caught at start.
   */
  public static ValueParser<String> repositoryName() {
    return name -> {
      if (name.length() > MAX_REPOSITORY_NAME_LENGTH) {
        throw new IllegalArgumentException("must be at most " + MAX_REPOSITORY_NAME_LENGTH + " characters");
      }
      for (String component : name.split("/", -1)) {
        if (!NAME_COMPONENT.matcher(component).matches()) {
          throw new IllegalArgumentException("must be a repository name like acme or acme/team/app: lowercase letters and digits,"
              + " with '.', '_', '__' or '-' only between them, components joined by single '/'");
        }
      }
      return name;
    };
  }

  /** An absolute http:// or https:// URL naming a host, with no path beyond "/", query or fragment. */
  public static ValueParser<URI> httpOrigin() {
    return text -> {
      URI uri = absoluteUri(text, "http", "https", "must start with http:// or https://", "http://registry.example:5000");
      String path = uri.getRawPath();
      if ((path != null && !path.isEmpty() && !path.equals("/")) || uri.getRawQuery() != null || uri.getRawFragment() != null) {
        throw new IllegalArgumentException("must be the registry's origin only (scheme, host, port): the /v2/ API is found under it");
      }
      if (uri.getUserInfo() != null) {
        throw new IllegalArgumentException("must not carry credentials: clients send their own");
      }
      try {
        return new URI(uri.getScheme().toLowerCase(Locale.ROOT), null, uri.getHost(), uri.getPort(), null, null, null);
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
