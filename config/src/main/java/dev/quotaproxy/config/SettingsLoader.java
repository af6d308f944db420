package dev.quotaproxy.config;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;

/**
 * Reads a catalog of settings from, in rising precedence: defaults, a YAML file, environment
 * variables ({@code QUOTA_PROXY_*}), command-line flags; and a catalog of {@link MapSetting}s from
 * the YAML file alone. Every problem is collected, so an operator fixes them all in one go; any
 * problem fails the load with a {@link ConfigurationException}.
 */
public final class SettingsLoader {
  /** Flag and environment variable that name the YAML file. */
  public static final String CONFIG_FLAG = "--config";
  public static final String CONFIG_ENV = Setting.ENV_PREFIX + "CONFIG";

  private final List<Setting<?>> catalog;
  private final List<MapSetting> mapCatalog;

  public SettingsLoader(List<Setting<?>> catalog) {
    this(catalog, List.of());
  }

  public SettingsLoader(List<Setting<?>> catalog, List<MapSetting> mapCatalog) {
    this.catalog = List.copyOf(catalog);
    this.mapCatalog = List.copyOf(mapCatalog);
  }

  public Settings load(List<String> args, Map<String, String> env) {
    List<String> problems = new ArrayList<>();
    Map<String, String> texts = new LinkedHashMap<>();
    Map<String, String> sources = new LinkedHashMap<>();
    Map<String, Map<String, Settings>> entries = new LinkedHashMap<>();

    for (Setting<?> s : catalog) {
      if (s.defaultText() != null) {
        texts.put(s.key(), s.defaultText());
        sources.put(s.key(), "default");
      }
    }

    Map<String, String> flags = parseFlags(args, problems);
    Optional<String> configFile = Optional.ofNullable(flags.remove(CONFIG_FLAG)).or(() -> Optional.ofNullable(env.get(CONFIG_ENV)));
    configFile.ifPresent(file -> readYaml(Path.of(file), texts, sources, entries, problems));
    readEnvironment(env, texts, sources, problems);
    applyFlags(flags, texts, sources, problems);

    Map<String, Object> values = new LinkedHashMap<>();
    for (Setting<?> s : catalog) {
      String text = texts.get(s.key());
      if (text == null) {
        if (s.required()) {
          problems.add(s.key() + " is required: set it with " + s.aliases().stream().findFirst().orElse(s.flag())
              + ", " + s.envName() + ", or in the YAML file");
        }
        continue;
      }
      try {
        values.put(s.key(), s.parser().parse(text));
      } catch (IllegalArgumentException e) {
        problems.add(SettingProblems.refusal(s.key(), sources.get(s.key()), text, e.getMessage()));
      }
    }
    if (!problems.isEmpty()) {
      throw new ConfigurationException(problems);
    }
    return new Settings(values, sources, entries);
  }

  /** {@code --key value}, {@code --key=value}, and a bare {@code --flag} for true|false settings. */
  private Map<String, String> parseFlags(List<String> args, List<String> problems) {
    Map<String, String> flags = new LinkedHashMap<>();
    for (int i = 0; i < args.size(); i++) {
      String arg = args.get(i);
      if (!arg.startsWith("--")) {
        problems.add("unexpected argument '" + arg + "': settings are given as --name value");
        continue;
      }
      int eq = arg.indexOf('=');
      String name = eq < 0 ? arg : arg.substring(0, eq);
      String value;
      if (eq >= 0) {
        value = arg.substring(eq + 1);
      } else if (i + 1 < args.size() && !args.get(i + 1).startsWith("--")) {
        value = args.get(++i);
      } else if (settingForFlag(name).map(Setting::isBoolean).orElse(false)) {
        value = "true";
      } else {
        problems.add(name + " needs a value");
        continue;
      }
      flags.put(name, value);
    }
    return flags;
  }

  private void applyFlags(Map<String, String> flags, Map<String, String> texts, Map<String, String> sources, List<String> problems) {
    flags.forEach((name, value) -> {
      Optional<Setting<?>> setting = settingForFlag(name);
      if (setting.isEmpty()) {
        problems.add("unknown flag " + name + hintFor(name.substring(2)));
        return;
      }
      texts.put(setting.get().key(), value);
      sources.put(setting.get().key(), "flag " + name);
    });
  }

  private void readEnvironment(Map<String, String> env, Map<String, String> texts, Map<String, String> sources, List<String> problems) {
    env.entrySet().stream()
        .filter(e -> e.getKey().startsWith(Setting.ENV_PREFIX) && !e.getKey().equals(CONFIG_ENV))
        .sorted(Map.Entry.comparingByKey())
        .forEach(e -> {
          Optional<Setting<?>> setting = catalog.stream().filter(s -> s.envName().equals(e.getKey())).findFirst();
          if (setting.isEmpty()) {
            problems.add("unknown environment variable " + e.getKey() + yamlOnlyHint(m -> m.coversEnvName(e.getKey())));
            return;
          }
          texts.put(setting.get().key(), e.getValue());
          sources.put(setting.get().key(), "environment " + e.getKey());
        });
  }

  private void readYaml(Path file, Map<String, String> texts, Map<String, String> sources,
      Map<String, Map<String, Settings>> entries, List<String> problems) {
    Object document;
    try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      document = new Load(LoadSettings.builder().setLabel(file.toString()).build()).loadFromReader(reader);
    } catch (IOException e) {
      problems.add("cannot read config file " + file + ": " + e.getMessage());
      return;
    } catch (YamlEngineException e) {
      problems.add("config file " + file + " is not valid YAML: " + e.getMessage().replace('\n', ' '));
      return;
    }
    if (document == null) {
      return;
    }
    if (!(document instanceof Map<?, ?> root)) {
      problems.add("config file " + file + " must be a YAML mapping of settings");
      return;
    }
    Map<String, Object> flat = new LinkedHashMap<>();
    flatten("", root, flat);
    flat.forEach((key, value) -> {
      Optional<MapSetting> mapSetting = mapSettingAt(key);
      if (mapSetting.isPresent()) {
        entries.put(key, MapSettingReader.read(mapSetting.get(), value, file, problems));
      } else if (catalog.stream().noneMatch(s -> s.key().equals(key))) {
        problems.add("unknown setting '" + key + "' in " + file + hintFor(key));
      } else if (value == null || value instanceof Map || value instanceof List) {
        problems.add(key + " in " + file + " must be a single value");
      } else {
        texts.put(key, String.valueOf(value));
        sources.put(key, "file " + file);
      }
    });
  }

  /**
   * {@code {upstream: {url: x}}} becomes {@code upstream.url: x}. A map setting's mapping is kept
   * whole under its prefix, because the names in it may contain dots.
   */
  private void flatten(String prefix, Map<?, ?> map, Map<String, Object> out) {
    map.forEach((k, v) -> {
      String key = prefix + k;
      if (v instanceof Map<?, ?> nested && !nested.isEmpty() && mapSettingAt(key).isEmpty()) {
        flatten(key + ".", nested, out);
      } else {
        out.put(key, v);
      }
    });
  }

  private Optional<Setting<?>> settingForFlag(String flag) {
    return catalog.stream().filter(s -> s.flag().equals(flag) || s.aliases().contains(flag)).findFirst();
  }

  private Optional<MapSetting> mapSettingAt(String key) {
    return mapCatalog.stream().filter(m -> m.prefix().equals(key)).findFirst();
  }

  /**
   * Why an unknown dotted name is unknown: it reaches into a map setting, which only the file's
   * nested mappings can give; or it is a couple of typos away from a known key.
   */
  private String hintFor(String unknown) {
    String yamlOnly = yamlOnlyHint(m -> m.covers(unknown));
    if (!yamlOnly.isEmpty()) {
      return yamlOnly;
    }
    return SettingProblems.closest(catalog.stream().map(Setting::key).toList(), unknown)
        .map(key -> " (did you mean " + key + "?)")
        .orElse("");
  }

  private String yamlOnlyHint(Predicate<MapSetting> reaches) {
    return mapCatalog.stream()
        .filter(reaches)
        .findFirst()
        .map(m -> ": " + m.prefix() + " is set in the YAML file only, as a mapping of " + m.nameHint() + " names to their settings")
        .orElse("");
  }

  /** One paragraph per setting: flags, environment variable, default and meaning. */
  public String help() {
    StringBuilder out = new StringBuilder();
    out.append("Settings (flag, environment variable, YAML key; flags win over the environment, which wins over the file):\n");
    out.append("  ").append(CONFIG_FLAG).append(" FILE   (").append(CONFIG_ENV).append(")  YAML file with any of the settings below\n");
    for (Setting<?> s : catalog) {
      out.append("  ").append(s.flag()).append(' ').append(s.valueHint());
      s.aliases().forEach(alias -> out.append(", ").append(alias));
      out.append("   (").append(s.envName()).append(")\n");
      out.append("      ").append(s.description());
      if (s.defaultText() != null) {
        out.append(" Default: ").append(s.defaultText()).append('.');
      } else if (s.required()) {
        out.append(" Required.");
      }
      out.append('\n');
    }
    for (MapSetting m : mapCatalog) {
      out.append("  ").append(m.prefix()).append('.').append(m.nameHint()).append(".FIELD   (YAML file only)\n");
      out.append("      ").append(m.description()).append(" Fields:\n");
      for (Setting<?> field : m.fields()) {
        out.append("        ").append(field.key()).append(' ').append(field.valueHint()).append("  ").append(field.description());
        if (field.defaultText() != null) {
          out.append(" Default: ").append(field.defaultText()).append('.');
        }
        out.append('\n');
      }
    }
    return out.toString();
  }
}
