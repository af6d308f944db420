package dev.quotaproxy.config;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Types the entries of one {@link MapSetting} from its YAML mapping: checks each name, refuses
 * unknown fields, applies field defaults and parses field values, adding every problem to the list.
 * Only entries without problems are returned; the load fails anyway when there are any.
 */
final class MapSettingReader {
  private final MapSetting setting;
  private final Path file;
  private final List<String> problems;

  private MapSettingReader(MapSetting setting, Path file, List<String> problems) {
    this.setting = setting;
    this.file = file;
    this.problems = problems;
  }

  /** @param mapping what the file holds at the setting's prefix: a mapping of names, or null */
  static Map<String, Settings> read(MapSetting setting, Object mapping, Path file, List<String> problems) {
    return new MapSettingReader(setting, file, problems).entries(mapping);
  }

  private Map<String, Settings> entries(Object mapping) {
    // "scopes:" with every entry commented out is null: no entries, not a mistake.
    if (mapping == null) {
      return Map.of();
    }
    if (!(mapping instanceof Map<?, ?> byName)) {
      problems.add(setting.prefix() + " in " + file + " must be a mapping of " + setting.nameHint() + " names to their settings");
      return Map.of();
    }
    Map<String, Settings> entries = new LinkedHashMap<>();
    byName.forEach((key, fields) -> {
      String name = String.valueOf(key);
      int problemsBefore = problems.size();
      try {
        setting.nameParser().parse(name);
      } catch (IllegalArgumentException e) {
        problems.add(SettingProblems.refusal(setting.prefix(), "file " + file, name, e.getMessage()));
      }
      Settings entry = entry(name, fields);
      if (problems.size() == problemsBefore) {
        entries.put(name, entry);
      }
    });
    return Collections.unmodifiableMap(entries);
  }

  private Settings entry(String name, Object fields) {
    Map<String, String> texts = new LinkedHashMap<>();
    Map<String, String> sources = new LinkedHashMap<>();
    for (Setting<?> field : setting.fields()) {
      if (field.defaultText() != null) {
        texts.put(field.key(), field.defaultText());
        sources.put(field.key(), "default");
      }
    }
    // "acme:" with nothing under it is null: an entry that keeps every default.
    if (fields instanceof Map<?, ?> given) {
      given.forEach((key, value) -> readField(name, String.valueOf(key), value, texts, sources));
    } else if (fields != null) {
      problems.add(setting.keyOf(name) + " in " + file + " must be a mapping of its settings: " + fieldNames());
    }
    Map<String, Object> values = new LinkedHashMap<>();
    for (Setting<?> field : setting.fields()) {
      String text = texts.get(field.key());
      if (text == null) {
        continue;
      }
      try {
        values.put(field.key(), field.parser().parse(text));
      } catch (IllegalArgumentException e) {
        problems.add(SettingProblems.refusal(setting.keyOf(name, field), sources.get(field.key()), text, e.getMessage()));
      }
    }
    return new Settings(values, sources);
  }

  private void readField(String name, String key, Object value, Map<String, String> texts, Map<String, String> sources) {
    if (setting.field(key).isEmpty()) {
      problems.add("unknown setting '" + setting.keyOf(name) + "." + key + "' in " + file + suggestion(key));
    } else if (value == null || value instanceof Map || value instanceof List) {
      problems.add(setting.keyOf(name) + "." + key + " in " + file + " must be a single value");
    } else {
      texts.put(key, String.valueOf(value));
      sources.put(key, "file " + file);
    }
  }

  private String suggestion(String unknown) {
    return SettingProblems.closest(setting.fields().stream().map(Setting::key).toList(), unknown)
        .map(key -> " (did you mean " + key + "?)")
        .orElse("");
  }

  private String fieldNames() {
    return setting.fields().stream().map(Setting::key).collect(Collectors.joining(", "));
  }
}
