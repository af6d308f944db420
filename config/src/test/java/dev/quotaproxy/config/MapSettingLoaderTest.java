package dev.quotaproxy.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The map-setting mechanism of {@link SettingsLoader}, on a catalog made up for the test. */
class MapSettingLoaderTest {
  static final Setting<String> NAME = Setting.withDefault("cache.name", "TEXT", "Name.", "main", Parsers.text());
  static final Setting<URI> URL = Setting.optional("url", "URL", "Where the mirror is.", Parsers.httpOrigin());
  static final Setting<Integer> WEIGHT = Setting.withDefault("weight", "N", "Share of traffic.", "1", Parsers.intBetween(1, 10));
  static final MapSetting MIRRORS = new MapSetting("cache.mirrors", "MIRROR", "Mirrors by name.", Parsers.repositoryName(),
      List.of(URL, WEIGHT));

  @TempDir Path dir;

  private final SettingsLoader loader = new SettingsLoader(List.of(NAME), List.of(MIRRORS));

  @Test
  void entriesAreTypedByNameInFileOrderWithTheirSources() throws IOException {
    Path yaml = write("""
        cache:
          name: edge
          mirrors:
            eu.west/b: {url: 'http://eu:5000', weight: 3}
            a: {weight: 2}
        """);

    Settings settings = loader.load(List.of("--config", yaml.toString()), Map.of());

    assertThat(settings.get(NAME)).isEqualTo("edge");
    Map<String, Settings> mirrors = settings.entries(MIRRORS);
    assertThat(mirrors).containsOnlyKeys("eu.west/b", "a");
    assertThat(mirrors.keySet()).containsExactly("eu.west/b", "a");
    assertThat(mirrors.get("eu.west/b").find(URL)).contains(URI.create("http://eu:5000"));
    assertThat(mirrors.get("eu.west/b").get(WEIGHT)).isEqualTo(3);
    assertThat(mirrors.get("eu.west/b").sourceOf(WEIGHT)).isEqualTo("file " + yaml);
    assertThat(mirrors.get("a").find(URL)).isEmpty();
    assertThat(mirrors.get("a").get(WEIGHT)).isEqualTo(2);
  }

  @Test
  void fieldsNotGivenTakeTheirDefaults() throws IOException {
    Path yaml = write("cache:\n  mirrors:\n    a: {url: 'http://a'}\n    b:\n");

    Map<String, Settings> mirrors = loader.load(List.of("--config", yaml.toString()), Map.of()).entries(MIRRORS);

    assertThat(mirrors.get("a").get(WEIGHT)).isEqualTo(1);
    assertThat(mirrors.get("a").sourceOf(WEIGHT)).isEqualTo("default");
    assertThat(mirrors.get("b").get(WEIGHT)).isEqualTo(1);
    assertThat(mirrors.get("b").find(URL)).isEmpty();
  }

  @Test
  void noEntriesWhenTheMappingIsAbsentEmptyOrCommentedOut() throws IOException {
    assertThat(loader.load(List.of(), Map.of()).entries(MIRRORS)).isEmpty();
    for (String yaml : List.of("cache: {name: x}\n", "cache: {mirrors: {}}\n", "cache:\n  mirrors:\n  # a: {weight: 2}\n")) {
      assertThat(loader.load(List.of("--config", write(yaml).toString()), Map.of()).entries(MIRRORS)).as(yaml).isEmpty();
    }
  }

  @Test
  void theMappingMayBeGivenUnderItsDottedPrefix() throws IOException {
    Path yaml = write("cache.mirrors:\n  a: {weight: 4}\n");

    assertThat(loader.load(List.of("--config", yaml.toString()), Map.of()).entries(MIRRORS).get("a").get(WEIGHT)).isEqualTo(4);
  }

  @Test
  void everyProblemInEntriesIsReportedWithTheFileAndAlongsideOtherProblems() throws IOException {
    Path yaml = write("""
        cache:
          mirrors:
            Upper: {weight: 2}
            a: {wieght: 2, url: [x, y]}
            b: {weight: 11, url: 'ftp://b'}
            c: 5
        """);

    assertThatThrownBy(() -> loader.load(List.of("--config", yaml.toString(), "--cache.name", " "), Map.of()))
        .isInstanceOfSatisfying(ConfigurationException.class, e -> assertThat(e.problems()).containsExactlyInAnyOrder(
            "cache.mirrors (from file " + yaml + "): 'Upper' must be a repository name like acme or acme/team/app:"
                + " lowercase letters and digits, with '.', '_', '__' or '-' only between them, components joined by single '/'",
            "unknown setting 'cache.mirrors.a.wieght' in " + yaml + " (did you mean weight?)",
            "cache.mirrors.a.url in " + yaml + " must be a single value",
            "cache.mirrors.b.weight (from file " + yaml + "): '11' must be between 1 and 10",
            "cache.mirrors.b.url (from file " + yaml + "): 'ftp://b' must start with http:// or https://",
            "cache.mirrors.c in " + yaml + " must be a mapping of its settings: url, weight",
            "cache.name (from flag --cache.name): ' ' must not be empty"));
  }

  @Test
  void theMappingMustMapNames() throws IOException {
    Path yaml = write("cache: {mirrors: [a, b]}\n");

    assertThatThrownBy(() -> loader.load(List.of("--config", yaml.toString()), Map.of()))
        .isInstanceOfSatisfying(ConfigurationException.class, e -> assertThat(e.problems()).containsExactly(
            "cache.mirrors in " + yaml + " must be a mapping of MIRROR names to their settings"));
  }

  @Test
  void environmentFlagsAndDottedKeysAreSentToTheFilesNestedMappings() throws IOException {
    Path yaml = write("cache.mirrors.a.weight: 2\n");

    assertThatThrownBy(() -> loader.load(List.of("--config", yaml.toString(), "--cache.mirrors.a.weight", "2"),
        Map.of("QUOTA_PROXY_CACHE_MIRRORS_A_WEIGHT", "2")))
        .isInstanceOfSatisfying(ConfigurationException.class, e -> assertThat(e.problems()).containsExactlyInAnyOrder(
            "unknown setting 'cache.mirrors.a.weight' in " + yaml
                + ": cache.mirrors is set in the YAML file only, as a mapping of MIRROR names to their settings",
            "unknown flag --cache.mirrors.a.weight: cache.mirrors is set in the YAML file only, as a mapping of MIRROR names to their settings",
            "unknown environment variable QUOTA_PROXY_CACHE_MIRRORS_A_WEIGHT:"
                + " cache.mirrors is set in the YAML file only, as a mapping of MIRROR names to their settings"));
  }

  @Test
  void otherUnknownNamesStillGetASuggestion() {
    assertThatThrownBy(() -> loader.load(List.of("--cache.nam", "x"), Map.of("QUOTA_PROXY_CACHE_MIRROR", "x")))
        .isInstanceOfSatisfying(ConfigurationException.class, e -> assertThat(e.problems()).containsExactlyInAnyOrder(
            "unknown flag --cache.nam (did you mean cache.name?)",
            "unknown environment variable QUOTA_PROXY_CACHE_MIRROR"));
  }

  @Test
  void fieldsCannotBeRequired() {
    Setting<String> required = Setting.required("host", "HOST", "Host.", Parsers.text());
    assertThatThrownBy(() -> new MapSetting("cache.mirrors", "MIRROR", "Mirrors.", Parsers.text(), List.of(required)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("cache.mirrors field host cannot be required: give it a default or make it optional");
  }

  @Test
  void keysNameTheEntryAndField() {
    assertThat(MIRRORS.keyOf("eu.west/b")).isEqualTo("cache.mirrors.eu.west/b");
    assertThat(MIRRORS.keyOf("eu.west/b", WEIGHT)).isEqualTo("cache.mirrors.eu.west/b.weight");
  }

  @Test
  void helpListsMapSettingsAndTheirFields() {
    assertThat(loader.help())
        .contains("cache.mirrors.MIRROR.FIELD   (YAML file only)")
        .contains("Mirrors by name.")
        .contains("url URL  Where the mirror is.")
        .contains("weight N  Share of traffic. Default: 1.");
  }

  private Path write(String content) throws IOException {
    return Files.writeString(Files.createTempFile(dir, "config", ".yaml"), content);
  }
}
