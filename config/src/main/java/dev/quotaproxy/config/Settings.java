package dev.quotaproxy.config;

import java.util.Map;
import java.util.Optional;

/**
 * Validated values of a catalog of settings, each remembered with the source it came from, and the
 * entries of its {@link MapSetting}s, each entry a {@code Settings} of its fields.
 */
public final class Settings {
  private final Map<String, Object> values;
  private final Map<String, String> sources;
  private final Map<String, Map<String, Settings>> entriesByPrefix;

  Settings(Map<String, Object> values, Map<String, String> sources) {
    this(values, sources, Map.of());
  }

  /** @param entriesByPrefix each map setting's entries by name, in the order the file gives them */
  Settings(Map<String, Object> values, Map<String, String> sources, Map<String, Map<String, Settings>> entriesByPrefix) {
    this.values = Map.copyOf(values);
    this.sources = Map.copyOf(sources);
    this.entriesByPrefix = Map.copyOf(entriesByPrefix);
  }

  /** The value of a setting that has a default or is required. */
  public <T> T get(Setting<T> setting) {
    return find(setting).orElseThrow(() -> new IllegalStateException(setting.key() + " has no value"));
  }

  @SuppressWarnings("unchecked")
  public <T> Optional<T> find(Setting<T> setting) {
    return Optional.ofNullable((T) values.get(setting.key()));
  }

  /** A map setting's entries by name, in file order; empty when the file has none. */
  public Map<String, Settings> entries(MapSetting setting) {
    return entriesByPrefix.getOrDefault(setting.prefix(), Map.of());
  }

  /** Where the value came from: "default", "flag --port", "environment QUOTA_PROXY_...", "file x.yaml". */
  public String sourceOf(Setting<?> setting) {
    return sources.getOrDefault(setting.key(), "unset");
  }
}
