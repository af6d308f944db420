package dev.quotaproxy.config;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A family of settings keyed by names the operator chooses: {@code quota.scopes.<scope>.<field>}.
 * Given in the YAML file only, as a mapping of names to mappings of fields, because names may hold
 * characters ('/', '.') that neither an environment variable nor a dotted key can carry unambiguously.
 *
 * <p>Each field is a {@link Setting} whose key is relative to its entry ({@code storage-hard}). Fields
 * have defaults or are optional: an entry that is not written needs nothing.
 *
 * @param prefix     dotted YAML path of the mapping, e.g. {@code quota.scopes}
 * @param nameHint   what a name is, for help output ("SCOPE")
 * @param nameParser checks a name; its message is shown to the operator like a value's
 * @param fields     what each entry may set
 */
public record MapSetting(String prefix, String nameHint, String description, ValueParser<String> nameParser, List<Setting<?>> fields) {

  public MapSetting {
    Objects.requireNonNull(prefix, "prefix");
    Objects.requireNonNull(nameParser, "nameParser");
    fields = List.copyOf(fields);
    for (Setting<?> field : fields) {
      if (field.required()) {
        throw new IllegalArgumentException(prefix + " field " + field.key() + " cannot be required: give it a default or make it optional");
      }
    }
  }

  /** {@code quota.scopes.acme/team}: how problems name one entry. */
  public String keyOf(String name) {
    return prefix + "." + name;
  }

  /** {@code quota.scopes.acme/team.storage-hard}: how problems name one field of one entry. */
  public String keyOf(String name, Setting<?> field) {
    return keyOf(name) + "." + field.key();
  }

  Optional<Setting<?>> field(String key) {
    return fields.stream().filter(f -> f.key().equals(key)).findFirst();
  }

  /** Whether a dotted key, or the name of a flag without its dashes, would address an entry of this family. */
  boolean covers(String dottedKey) {
    return dottedKey.startsWith(prefix + ".");
  }

  /** Whether an environment variable would, were such variables read: {@code QUOTA_PROXY_QUOTA_SCOPES_...}. */
  boolean coversEnvName(String envName) {
    return envName.startsWith(Setting.envNameOf(prefix) + "_");
  }
}
