package dev.quotaproxy.config;

import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * One setting: its dotted key (the YAML path), the environment variable and flags derived from it,
 * a default (null when the setting is optional and has none), and the parser that types it.
 *
 * @param key         dotted YAML path, e.g. {@code upstream.url}
 * @param valueHint   what the value looks like, for help output ("URL", "duration")
 * @param defaultText default value as text, or null when there is none
 * @param required    whether start-up fails when no source gives a value
 * @param aliases     extra command-line flags, e.g. {@code --upstream} for {@code --upstream.url}
 */
public record Setting<T>(
    String key,
    String valueHint,
    String description,
    String defaultText,
    boolean required,
    ValueParser<T> parser,
    List<String> aliases) {

  public static final String ENV_PREFIX = "QUOTA_PROXY_";

  public Setting {
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(parser, "parser");
    aliases = List.copyOf(aliases);
  }

  public static <T> Setting<T> optional(String key, String hint, String description, ValueParser<T> parser, String... aliases) {
    return new Setting<>(key, hint, description, null, false, parser, List.of(aliases));
  }

  public static <T> Setting<T> withDefault(String key, String hint, String description, String defaultText, ValueParser<T> parser,
      String... aliases) {
    return new Setting<>(key, hint, description, defaultText, false, parser, List.of(aliases));
  }

  public static <T> Setting<T> required(String key, String hint, String description, ValueParser<T> parser, String... aliases) {
    return new Setting<>(key, hint, description, null, true, parser, List.of(aliases));
  }

  /** {@code upstream.pool-size} is overridden by {@code QUOTA_PROXY_UPSTREAM_POOL_SIZE}. */
  public String envName() {
    return envNameOf(key);
  }

  static String envNameOf(String dottedKey) {
    return ENV_PREFIX + dottedKey.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_');
  }

  /** The long flag, {@code --upstream.pool-size}. */
  public String flag() {
    return "--" + key;
  }

  public boolean isBoolean() {
    return "true|false".equals(valueHint);
  }
}
