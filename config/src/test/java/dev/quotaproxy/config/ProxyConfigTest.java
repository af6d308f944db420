package dev.quotaproxy.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProxyConfigTest {
  @TempDir Path dir;

  @Test
  void defaultsNeedOnlyTheUpstream() {
    ProxyConfig config = ProxyConfig.load(List.of("--upstream", "http://127.0.0.1:5000"), Map.of());

    assertThat(config.upstream().origin()).isEqualTo(URI.create("http://127.0.0.1:5000"));
    assertThat(config.upstream().port()).isEqualTo(5000);
    assertThat(config.upstream().secure()).isFalse();
    assertThat(config.upstream().poolSize()).isEqualTo(64);
    assertThat(config.upstream().connectTimeout()).isEqualTo(Duration.ofSeconds(5));
    assertThat(config.listen().port()).isEqualTo(8080);
    assertThat(config.listen().host()).isEqualTo("0.0.0.0");
    assertThat(config.listen().tls()).isEmpty();
    assertThat(config.listen().scheme()).isEqualTo("http");
    assertThat(config.eventLoops()).isEqualTo(Runtime.getRuntime().availableProcessors());
  }

  @Test
  void flagsBeatEnvironmentWhichBeatsTheFile() throws IOException {
    Path yaml = write("config.yaml", """
        upstream:
          url: http://file:5000
          pool-size: 10
          idle-timeout: 2m
        listen:
          port: 1111
        """);
    Map<String, String> env = Map.of(
        "QUOTA_PROXY_CONFIG", yaml.toString(),
        "QUOTA_PROXY_LISTEN_PORT", "2222",
        "QUOTA_PROXY_UPSTREAM_POOL_SIZE", "20",
        "HOME", "/root");

    ProxyConfig config = ProxyConfig.load(List.of("--port=3333", "--upstream.pool-size", "30"), env);

    assertThat(config.listen().port()).isEqualTo(3333);
    assertThat(config.upstream().poolSize()).isEqualTo(30);
    assertThat(config.upstream().origin()).isEqualTo(URI.create("http://file:5000"));
    assertThat(config.upstream().idleTimeout()).isEqualTo(Duration.ofMinutes(2));
  }

  @Test
  void configFlagNamesTheFile() throws IOException {
    Path yaml = write("c.yaml", "upstream: {url: 'https://registry.example'}\n");

    ProxyConfig config = ProxyConfig.load(List.of("--config", yaml.toString()), Map.of());

    assertThat(config.upstream().origin()).isEqualTo(URI.create("https://registry.example"));
    assertThat(config.upstream().secure()).isTrue();
    assertThat(config.upstream().port()).isEqualTo(443);
  }

  @Test
  void everyProblemIsReportedAtOnceWithItsSource() {
    assertThatThrownBy(() -> ProxyConfig.load(
        List.of("--upstream", "ftp://x", "--port", "70000", "--upstream.idle-timeout", "30"),
        Map.of("QUOTA_PROXY_UPSTREAM_POOL_SIZE", "many")))
        .isInstanceOfSatisfying(ConfigurationException.class, e -> assertThat(e.problems()).containsExactlyInAnyOrder(
            "upstream.url (from flag --upstream): 'ftp://x' must start with http:// or https://",
            "listen.port (from flag --port): '70000' must be between 0 and 65535",
            "upstream.idle-timeout (from flag --upstream.idle-timeout): '30' must be a duration with a unit, like 500ms, 30s, 5m, 1h or 1d",
            "upstream.pool-size (from environment QUOTA_PROXY_UPSTREAM_POOL_SIZE): 'many' must be a whole number"));
  }

  @Test
  void missingUpstreamSaysHowToSetIt() {
    assertThatThrownBy(() -> ProxyConfig.load(List.of(), Map.of()))
        .isInstanceOfSatisfying(ConfigurationException.class, e -> assertThat(e.problems()).containsExactly(
            "upstream.url is required: set it with --upstream, QUOTA_PROXY_UPSTREAM_URL, or in the YAML file"));
  }

  @Test
  void unknownNamesAreRefusedWithASuggestion() throws IOException {
    Path yaml = write("c.yaml", "upstream:\n  urll: http://x\n");

    assertThatThrownBy(() -> ProxyConfig.load(
        List.of("--config", yaml.toString(), "--listen.prot", "1", "stray"),
        Map.of("QUOTA_PROXY_UPSTREAM_URI", "http://x")))
        .isInstanceOfSatisfying(ConfigurationException.class, e -> assertThat(e.problems()).containsExactlyInAnyOrder(
            "unexpected argument 'stray': settings are given as --name value",
            "unknown flag --listen.prot (did you mean listen.port?)",
            "unknown setting 'upstream.urll' in " + yaml + " (did you mean upstream.url?)",
            "unknown environment variable QUOTA_PROXY_UPSTREAM_URI",
            "upstream.url is required: set it with --upstream, QUOTA_PROXY_UPSTREAM_URL, or in the YAML file"));
  }

  @Test
  void upstreamMustBeAnOriginOnly() {
    assertThatThrownBy(() -> ProxyConfig.load(List.of("--upstream", "http://r:5000/v2/"), Map.of()))
        .hasMessageContaining("must be the registry's origin only");
    assertThatThrownBy(() -> ProxyConfig.load(List.of("--upstream", "http://user:pw@r"), Map.of()))
        .hasMessageContaining("must not carry credentials");
    assertThat(ProxyConfig.load(List.of("--upstream", "HTTP://r:5000/"), Map.of()).upstream().origin())
        .isEqualTo(URI.create("http://r:5000"));
  }

  @Test
  void tlsNeedsCertificateAndKeyTogetherAndFilesThatExist() throws IOException {
    Path cert = write("cert.pem", "x");
    assertThatThrownBy(() -> ProxyConfig.load(List.of("--upstream", "http://r", "--listen.tls.cert", cert.toString()), Map.of()))
        .isInstanceOfSatisfying(ConfigurationException.class, e -> assertThat(e.problems()).containsExactly(
            "listen.tls.cert and listen.tls.key go together: set both to serve HTTPS, or neither"));
    assertThatThrownBy(
        () -> ProxyConfig.load(List.of("--upstream", "http://r", "--listen.tls.key", dir.resolve("nope.pem").toString()), Map.of()))
        .hasMessageContaining("listen.tls.key (from flag --listen.tls.key): '" + dir.resolve("nope.pem") + "' no such file");

    Path key = write("key.pem", "y");
    ProxyConfig config = ProxyConfig.load(
        List.of("--upstream", "http://r", "--listen.tls.cert", cert.toString(), "--listen.tls.key", key.toString()), Map.of());
    assertThat(config.listen().tls()).contains(new ProxyConfig.Tls(cert, key));
    assertThat(config.listen().scheme()).isEqualTo("https");
  }

  @Test
  void upstreamCaOnlyWithHttpsUpstream() throws IOException {
    Path ca = write("ca.pem", "x");
    assertThatThrownBy(() -> ProxyConfig.load(List.of("--upstream", "http://r", "--upstream.ca", ca.toString()), Map.of()))
        .hasMessageContaining("upstream.ca (from flag --upstream.ca) is only used with an https:// upstream.url");
    assertThat(ProxyConfig.load(List.of("--upstream", "https://r", "--upstream.ca", ca.toString()), Map.of()).upstream().caCertificates())
        .contains(ca);
  }

  @Test
  void bareBooleanFlagMeansTrue() {
    ProxyConfig config = ProxyConfig.load(List.of("--listen.trust-forwarded-headers", "--upstream", "http://r"), Map.of());
    assertThat(config.listen().trustForwardedHeaders()).isTrue();
  }

  @Test
  void brokenYamlIsReportedNotThrown() throws IOException {
    Path yaml = write("bad.yaml", "upstream: [unclosed\n");
    assertThatThrownBy(() -> ProxyConfig.load(List.of("--config", yaml.toString()), Map.of()))
        .hasMessageContaining("is not valid YAML");
    Path list = write("list.yaml", "- a\n- b\n");
    assertThatThrownBy(() -> ProxyConfig.load(List.of("--config", list.toString()), Map.of()))
        .hasMessageContaining("must be a YAML mapping of settings");
  }

  @Test
  void helpListsEverySettingWithItsEnvironmentVariable() {
    String help = ProxyConfig.loader().help();
    for (Setting<?> s : ProxyConfig.CATALOG) {
      assertThat(help).contains(s.flag()).contains(s.envName());
    }
    for (MapSetting m : ProxyConfig.MAP_CATALOG) {
      assertThat(help).contains(m.prefix() + "." + m.nameHint());
      m.fields().forEach(field -> assertThat(help).contains(field.key() + " " + field.valueHint()));
    }
  }

  @Test
  void readmeDocumentsEverySetting() throws IOException {
    String readme = Files.readString(Path.of("..", "README.md"));
    for (Setting<?> s : ProxyConfig.CATALOG) {
      assertThat(readme).as("README documents " + s.key()).contains("`" + s.key() + "`");
    }
    for (MapSetting m : ProxyConfig.MAP_CATALOG) {
      assertThat(readme).as("README documents " + m.prefix()).contains("`" + m.prefix() + "`");
      m.fields().forEach(field -> assertThat(readme).as("README documents " + m.prefix() + " field " + field.key())
          .contains("| `" + field.key() + "` | " + (field.defaultText() == null ? "none" : "`" + field.defaultText() + "`")));
    }
  }

  private Path write(String name, String content) throws IOException {
    return Files.writeString(dir.resolve(name), content);
  }
}
