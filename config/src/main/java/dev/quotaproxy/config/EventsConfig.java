package dev.quotaproxy.config;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Quota events as webhooks ({@code events.*}): the receivers, and how their deliveries are retried.
 *
 * @param webhooks       the receivers, in the order the file gives them (none: events are recorded, not sent)
 * @param retryFirst     the wait after a delivery's first failed attempt; each later one doubles it
 * @param retryMax       the longest wait between two attempts
 * @param giveUpAfter    how long after its event a delivery is still tried; then it is {@code failed}
 * @param pollInterval   how often each proxy looks for events to fan out and deliveries that are due
 * @param requestTimeout how long one attempt may take, connection included
 */
public record EventsConfig(List<WebhookEndpoint> webhooks, Duration retryFirst, Duration retryMax, Duration giveUpAfter,
    Duration pollInterval, Duration requestTimeout) {

  public EventsConfig {
    webhooks = List.copyOf(webhooks);
  }

  public static final Setting<Duration> RETRY_FIRST = Setting.withDefault("events.retry-first", "DURATION",
      "Wait after a webhook delivery's first failed attempt; each later wait doubles, up to events.retry-max.",
      "10s", Parsers.duration(Duration.ofMillis(10)));
  public static final Setting<Duration> RETRY_MAX = Setting.withDefault("events.retry-max", "DURATION",
      "Longest wait between two attempts of a webhook delivery.", "10m", Parsers.duration(Duration.ofMillis(10)));
  public static final Setting<Duration> GIVE_UP_AFTER = Setting.withDefault("events.give-up-after", "DURATION",
      "How long after its event a webhook delivery is still tried; then it is marked failed in the delivery log.",
      "24h", Parsers.duration(Duration.ofSeconds(1)));
  public static final Setting<Duration> POLL_INTERVAL = Setting.withDefault("events.poll-interval", "DURATION",
      "How often each proxy looks for new quota events, deliveries that are due, and a change of the read-only state.",
      "1s", Parsers.duration(Duration.ofMillis(10)));
  public static final Setting<Duration> REQUEST_TIMEOUT = Setting.withDefault("events.request-timeout", "DURATION",
      "How long one webhook attempt may take, connecting included; then it counts as failed and is retried.",
      "10s", Parsers.duration(Duration.ofMillis(10)));

  public static final List<Setting<?>> SETTINGS = List.of(RETRY_FIRST, RETRY_MAX, GIVE_UP_AFTER, POLL_INTERVAL, REQUEST_TIMEOUT);

  public static final MapSetting WEBHOOKS = new MapSetting("events.webhooks", "NAME",
      "Receivers of quota events, by the name the delivery log shows: a URL, the secret that signs the bodies, the scope"
          + " prefix whose events they take, and which events.",
      Parsers.simpleName(), WebhookEndpoint.FIELDS);

  static EventsConfig from(Settings s, List<String> problems) {
    List<WebhookEndpoint> webhooks = new ArrayList<>();
    s.entries(WEBHOOKS).forEach((name, entry) -> WebhookEndpoint.from(WEBHOOKS, name, entry, problems).ifPresent(webhooks::add));
    if (s.get(RETRY_MAX).compareTo(s.get(RETRY_FIRST)) < 0) {
      problems.add("events.retry-max (from " + s.sourceOf(RETRY_MAX) + ") must be at least events.retry-first (from "
          + s.sourceOf(RETRY_FIRST) + ")");
    }
    return new EventsConfig(webhooks, s.get(RETRY_FIRST), s.get(RETRY_MAX), s.get(GIVE_UP_AFTER), s.get(POLL_INTERVAL),
        s.get(REQUEST_TIMEOUT));
  }
}
