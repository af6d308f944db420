package dev.quotaproxy.config;

import java.util.Map;
import java.util.Optional;

/** Validated values of a catalog of settings, each remembered with the source it came from. */
public final class Settings {
  private final Map<String, Object> values;
  private final Map<String, String> sources;

  Settings(Map<String, Object> values, Map<String, String> sources) {
    this.values = Map.copyOf(values);
    this.sources = Map.copyOf(sources);
  }

  /** The value of a setting that has a default or is required. */
  public <T> T get(Setting<T> setting) {
    return find(setting).orElseThrow(() -> new IllegalStateException(setting.key() + " has no value"));
  }

  @SuppressWarnings("unchecked")
  public <T> Optional<T> find(Setting<T> setting) {
    return Optional.ofNullable((T) values.get(setting.key()));
  }

  /** Where the value came from: "default", "flag --port", "environment QUOTA_PROXY_...", "file x.yaml". */
  public String sourceOf(Setting<?> setting) {
    return sources.getOrDefault(setting.key(), "unset");
  }
}
