package dev.quotaproxy.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** quota.scopes: per-scope limits from the YAML file, checked field by field and against each other. */
class ScopeLimitSettingsTest {
  private static final long GIB = 1024L * 1024 * 1024;
  private static final String NAME_GRAMMAR = "must be a repository name like acme or acme/team/app:"
      + " lowercase letters and digits, with '.', '_', '__' or '-' only between them, components joined by single '/'";
  private static final String YAML_ONLY = ": quota.scopes is set in the YAML file only, as a mapping of SCOPE names to their settings";

  @TempDir Path dir;

  @Test
  void scopesAreReadWithSoftLimitsInBytesAndWindowsInSeconds() throws IOException {
    Map<String, Limits> scopes = scopes("""
        acme: {storage-hard: 10GiB, storage-soft: 80%, egress: 100GiB, egress-window: 1d}
        acme/team/app:
          storage-hard: 2G
        """);

    assertThat(scopes).containsExactly(
        Map.entry("acme", new Limits(10 * GIB, 8 * GIB, 100 * GIB, 86_400)),
        Map.entry("acme/team/app", new Limits(2 * GIB, -1, -1, 3600)));
  }

  @Test
  void anEntryWithoutFieldsLimitsNothing() throws IOException {
    assertThat(scopes("acme:\nbeta: {}\n")).containsExactly(
        Map.entry("acme", new Limits(-1, -1, -1, 3600)),
        Map.entry("beta", new Limits(-1, -1, -1, 3600)));
  }

  @Test
  void scopeNamesMayHoldDotsUnderscoresAndDashes() throws IOException {
    Map<String, Limits> scopes = scopes("""
        my.org/team__x/app-1: {egress: 1TB, egress-window: 90m}
        'a_b/c--d': {storage-hard: 1.5G}
        """);

    assertThat(scopes).containsOnlyKeys("my.org/team__x/app-1", "a_b/c--d");
    assertThat(scopes.get("my.org/team__x/app-1")).isEqualTo(new Limits(-1, -1, 1_000_000_000_000L, 5400));
    assertThat(scopes.get("a_b/c--d").storageHard()).isEqualTo(1610612736L);
  }

  @Test
  void softLimitsMayBeSizesUpToTheHardLimitOrWithoutOne() throws IOException {
    Map<String, Limits> scopes = scopes("""
        equal: {storage-hard: 1G, storage-soft: 1024M}
        full: {storage-hard: 1G, storage-soft: 100%}
        nohard: {storage-soft: 5G}
        bare: {storage-hard: 1000, storage-soft: 80}
        """);

    assertThat(scopes.get("equal").storageSoft()).isEqualTo(GIB);
    assertThat(scopes.get("full").storageSoft()).isEqualTo(GIB);
    assertThat(scopes.get("nohard")).isEqualTo(new Limits(-1, 5 * GIB, -1, 3600));
    assertThat(scopes.get("bare").storageSoft()).isEqualTo(80);
  }

  @Test
  void theScopeMapCannotBeChanged() throws IOException {
    Map<String, Limits> scopes = scopes("acme: {storage-hard: 1G}\n");

    assertThatThrownBy(() -> scopes.put("other", new Limits(-1, -1, -1, 3600))).isInstanceOf(UnsupportedOperationException.class);
  }

  @Test
  void badNamesFieldsAndValuesAreAllReportedWithTheFile() throws IOException {
    Path yaml = config("""
        Acme: {storage-hard: 1G}
        acme//app: {}
        acme/: {}
        ok: {storage-hrad: 1G, egress: [1G]}
        values:
          storage-hard: lots
          storage-soft: 150%
          egress: -2
          egress-window: 30s
        window: {egress-window: 90500ms}
        soft: {storage-soft: plenty}
        flat: 10G
        """);

    assertThatThrownBy(() -> load(yaml))
        .isInstanceOfSatisfying(ConfigurationException.class, e -> assertThat(e.problems()).containsExactlyInAnyOrder(
            "quota.scopes (from file " + yaml + "): 'Acme' " + NAME_GRAMMAR,
            "quota.scopes (from file " + yaml + "): 'acme//app' " + NAME_GRAMMAR,
            "quota.scopes (from file " + yaml + "): 'acme/' " + NAME_GRAMMAR,
            "unknown setting 'quota.scopes.ok.storage-hrad' in " + yaml + " (did you mean storage-hard?)",
            "quota.scopes.ok.egress in " + yaml + " must be a single value",
            "quota.scopes.values.storage-hard (from file " + yaml
                + "): 'lots' must be a size like 500M, 1G, 2TiB, 10GB or a number of bytes (-1 for unlimited)",
            "quota.scopes.values.storage-soft (from file " + yaml + "): '150%' must be at most 100%",
            "quota.scopes.values.egress (from file " + yaml
                + "): '-2' must be a size like 500M, 1G, 2TiB, 10GB or a number of bytes (-1 for unlimited)",
            "quota.scopes.values.egress-window (from file " + yaml + "): '30s' must be at least 60000ms",
            "quota.scopes.window.egress-window (from file " + yaml + "): '90500ms' must be a whole number of seconds",
            "quota.scopes.soft.storage-soft (from file " + yaml
                + "): 'plenty' must be a size like 500M, 8G or 10GB (-1 for none), or a percentage like 80%",
            "quota.scopes.flat in " + yaml + " must be a mapping of its settings: storage-hard, storage-soft, egress, egress-window,"
                + " repositories-hard, repositories-soft, manifests-hard, manifests-soft"));
  }

  @Test
  void namesLongerThan255CharactersAreRefused() throws IOException {
    String name = "a/".repeat(127) + "bc";
    Path yaml = config("'" + name + "': {storage-hard: 1G}\n");

    assertThatThrownBy(() -> load(yaml))
        .isInstanceOfSatisfying(ConfigurationException.class, e -> assertThat(e.problems()).containsExactly(
            "quota.scopes (from file " + yaml + "): '" + name + "' must be at most 255 characters"));
  }

  @Test
  void softLimitsAreCheckedAgainstTheHardLimitInEveryScope() throws IOException {
    Path yaml = config("""
        percent: {storage-soft: 80%}
        over: {storage-hard: 10G, storage-soft: 12G}
        fine: {storage-hard: 10G, storage-soft: 8G}
        """);

    assertThatThrownBy(() -> load(yaml))
        .isInstanceOfSatisfying(ConfigurationException.class, e -> assertThat(e.problems()).containsExactlyInAnyOrder(
            "quota.scopes.percent.storage-soft (from file " + yaml + ") is a percentage of storage-hard, which is unlimited:"
                + " set storage-hard too, or give storage-soft as a size",
            "quota.scopes.over.storage-soft (from file " + yaml + ") must not exceed storage-hard: 12.0 GiB is more than 10.0 GiB"));
  }

  @Test
  void countLimitsAreWholeNumbersWithSoftAtMostHard() throws IOException {
    Map<String, Limits> scopes = scopes("""
        acme: {repositories-hard: 10, repositories-soft: 8, manifests-hard: 100, manifests-soft: 100}
        beta: {manifests-soft: 5}
        """);
    assertThat(scopes.get("acme")).isEqualTo(new Limits(-1, -1, -1, 3600).withCounts(10, 8, 100, 100));
    assertThat(scopes.get("beta")).isEqualTo(new Limits(-1, -1, -1, 3600, -1, -1, -1, 5));

    Path over = config("over: {repositories-hard: 10, repositories-soft: 11}\n");
    assertThatThrownBy(() -> load(over))
        .isInstanceOfSatisfying(ConfigurationException.class, e -> assertThat(e.problems()).containsExactly(
            "quota.scopes.over.repositories-soft (from file " + over + ") must not exceed the hard limit: 11 is more than 10"));

    Path yaml = config("""
        bad: {manifests-hard: 1.5}
        negative: {repositories-hard: -2}
        """);
    assertThatThrownBy(() -> load(yaml))
        .isInstanceOfSatisfying(ConfigurationException.class, e -> assertThat(e.problems()).containsExactlyInAnyOrder(
            "quota.scopes.bad.manifests-hard (from file " + yaml + "): '1.5' must be a whole number, -1 for unlimited",
            "quota.scopes.negative.repositories-hard (from file " + yaml + "): '-2' must be -1 (unlimited) or 0 to 9007199254740991"));
  }

  @Test
  void scopesAreNotTakenFromTheEnvironmentOrFlags() {
    assertThatThrownBy(() -> ProxyConfig.load(
        List.of("--upstream", "http://r", "--quota.scopes.acme.storage-hard", "1G"),
        Map.of("QUOTA_PROXY_QUOTA_SCOPES_ACME_STORAGE_HARD", "1G")))
        .isInstanceOfSatisfying(ConfigurationException.class, e -> assertThat(e.problems()).containsExactlyInAnyOrder(
            "unknown flag --quota.scopes.acme.storage-hard" + YAML_ONLY,
            "unknown environment variable QUOTA_PROXY_QUOTA_SCOPES_ACME_STORAGE_HARD" + YAML_ONLY));
  }

  @Test
  void scopesMustBeAMappingOfNames() throws IOException {
    Path yaml = Files.writeString(dir.resolve("list.yaml"), "upstream: {url: 'http://r'}\nquota:\n  scopes: [acme]\n");

    assertThatThrownBy(() -> load(yaml))
        .isInstanceOfSatisfying(ConfigurationException.class, e -> assertThat(e.problems()).containsExactly(
            "quota.scopes in " + yaml + " must be a mapping of SCOPE names to their settings"));
  }

  @Test
  void scopesLiveBesideTheOtherQuotaSettings() throws IOException {
    Path yaml = Files.writeString(dir.resolve("both.yaml"), """
        upstream: {url: 'http://r'}
        quota:
          fail-open: true
          system: {hard-storage: 1T}
          scopes:
            acme: {storage-hard: 1G}
        """);

    ProxyConfig config = load(yaml);

    assertThat(config.quota().failOpen()).isTrue();
    assertThat(config.quota().system().hardStorage()).isEqualTo(1024 * GIB);
    assertThat(config.quota().scopes()).containsOnlyKeys("acme");
  }

  private Map<String, Limits> scopes(String scopesYaml) throws IOException {
    return load(config(scopesYaml)).quota().scopes();
  }

  /** A config file with the given lines under quota.scopes. */
  private Path config(String scopesYaml) throws IOException {
    String indented = scopesYaml.lines().map(line -> "    " + line).reduce("", (a, b) -> a + b + "\n");
    return Files.writeString(Files.createTempFile(dir, "scopes", ".yaml"), "upstream: {url: 'http://r'}\nquota:\n  scopes:\n" + indented);
  }

  private static ProxyConfig load(Path yaml) {
    return ProxyConfig.load(List.of("--config", yaml.toString()), Map.of());
  }
}
