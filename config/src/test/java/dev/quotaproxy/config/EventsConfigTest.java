package dev.quotaproxy.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EventsConfigTest {
  @TempDir Path dir;

  private ProxyConfig load(String yaml) throws IOException {
    Path file = Files.writeString(dir.resolve("events.yaml"), yaml);
    return ProxyConfig.load(List.of("--upstream", "http://127.0.0.1:5000", "--config", file.toString()), Map.of());
  }

  @Test
  void noWebhooksByDefaultAndTheDefaultSchedule() {
    EventsConfig events = ProxyConfig.load(List.of("--upstream", "http://127.0.0.1:5000"), Map.of()).events();

    assertThat(events.webhooks()).isEmpty();
    assertThat(events.retryFirst()).isEqualTo(Duration.ofSeconds(10));
    assertThat(events.retryMax()).isEqualTo(Duration.ofMinutes(10));
    assertThat(events.giveUpAfter()).isEqualTo(Duration.ofHours(24));
    assertThat(events.pollInterval()).isEqualTo(Duration.ofSeconds(1));
    assertThat(events.requestTimeout()).isEqualTo(Duration.ofSeconds(10));
  }

  @Test
  void webhooksByNameWithTheirPrefixSecretAndEvents() throws IOException {
    EventsConfig events = load("""
        events:
          retry-first: 2s
          webhooks:
            acme-ops: {scope-prefix: acme/team, url: "https://hooks.example/quota?x=1", secret: 0123456789abcdef0123, events: "quota_exceeded, QUOTA_WARNING"}
            all:
              url: http://127.0.0.1:9000/
              secret: fedcba9876543210fedc
        """).events();

    assertThat(events.retryFirst()).isEqualTo(Duration.ofSeconds(2));
    assertThat(events.webhooks()).extracting(WebhookEndpoint::name).containsExactly("acme-ops", "all");
    WebhookEndpoint acme = events.webhooks().get(0);
    assertThat(acme.scopePrefix()).isEqualTo("acme/team");
    assertThat(acme.url()).isEqualTo(URI.create("https://hooks.example/quota?x=1"));
    assertThat(acme.events()).isEqualTo(Set.of(QuotaEventType.QUOTA_EXCEEDED, QuotaEventType.QUOTA_WARNING));
    assertThat(acme.toString()).doesNotContain("0123456789abcdef0123");
    WebhookEndpoint all = events.webhooks().get(1);
    assertThat(all.scopePrefix()).isEmpty();
    assertThat(all.events()).isEqualTo(EnumSet.allOf(QuotaEventType.class));
  }

  @Test
  void valuesThatDoNotParseAreNamedWithTheEndpoint() {
    assertThatThrownBy(() -> load("""
        events:
          webhooks:
            ftp: {url: "ftp://x/", secret: 0123456789abcdef0123}
            typo: {url: "http://x/", secret: 0123456789abcdef0123, events: QUOTA_EXCEDED}
            bad: {url: "http://x/", secret: 0123456789abcdef0123, scope-prefix: "Acme"}
        """))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("events.webhooks.ftp.url")
        .hasMessageContaining("events.webhooks.typo.events")
        .hasMessageContaining("has 'QUOTA_EXCEDED', which is no quota event")
        .hasMessageContaining("events.webhooks.bad.scope-prefix");
  }

  @Test
  void missingAndShortValuesAreNamedWithTheEndpoint() {
    assertThatThrownBy(() -> load("""
        events:
          retry-first: 1m
          retry-max: 10s
          webhooks:
            nourl: {secret: 0123456789abcdef0123}
            nosecret: {url: "http://x/"}
            short: {url: "http://x/", secret: tooshort}
        """))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("events.webhooks.nourl.url is missing")
        .hasMessageContaining("events.webhooks.nosecret.secret is missing")
        .hasMessageContaining("events.webhooks.short.secret is too short")
        .hasMessageContaining("events.retry-max");
  }

  @Test
  void anEndpointTakesItsScopeAndEverythingUnderIt() {
    WebhookEndpoint acme = new WebhookEndpoint("a", "acme", URI.create("http://x/"), "0123456789abcdef",
        EnumSet.of(QuotaEventType.QUOTA_EXCEEDED, QuotaEventType.READ_ONLY));

    assertThat(acme.takes(QuotaEventType.QUOTA_EXCEEDED, "acme", "acme/app")).isTrue();
    assertThat(acme.takes(QuotaEventType.QUOTA_EXCEEDED, "acme/team", null)).isTrue();
    assertThat(acme.takes(QuotaEventType.QUOTA_EXCEEDED, "acmecorp", "acmecorp/app")).isFalse();
    assertThat(acme.takes(QuotaEventType.QUOTA_EXCEEDED, "globex", "globex/app")).isFalse();
    assertThat(acme.takes(QuotaEventType.QUOTA_WARNING, "acme", null)).as("not one of its events").isFalse();
    assertThat(acme.takes(QuotaEventType.READ_ONLY, "", null)).as("the system scope holds acme too").isTrue();

    WebhookEndpoint team = new WebhookEndpoint("t", "acme/team", URI.create("http://x/"), "0123456789abcdef",
        EnumSet.allOf(QuotaEventType.class));
    assertThat(team.takes(QuotaEventType.QUOTA_EXCEEDED, "acme", "acme/team/app")).as("a push into it refused at acme").isTrue();
    assertThat(team.takes(QuotaEventType.QUOTA_WARNING, "acme", null)).isFalse();
  }
}
