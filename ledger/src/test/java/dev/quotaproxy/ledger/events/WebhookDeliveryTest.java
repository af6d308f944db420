package dev.quotaproxy.ledger.events;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static dev.quotaproxy.testing.Eventually.eventually;
import static org.assertj.core.api.Assertions.assertThat;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.stubbing.ServeEvent;
import dev.quotaproxy.config.EventsConfig;
import dev.quotaproxy.config.QuotaEventType;
import dev.quotaproxy.config.WebhookEndpoint;
import dev.quotaproxy.ledger.Ledger;
import dev.quotaproxy.ledger.LedgerEvent;
import dev.quotaproxy.ledger.LedgerEvent.Rejected;
import dev.quotaproxy.ledger.events.DeliveryLog.Delivery;
import dev.quotaproxy.ledger.events.DeliveryLog.Query;
import dev.quotaproxy.ledger.support.TestPostgres;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Webhook deliveries from the outbox to a real HTTP receiver (WireMock), with a real Postgres: signed bodies, a
 * receiver that is down for many retries (the schedule shrunk from seconds and minutes to milliseconds), a worker
 * restarted with deliveries still pending, two workers sharing the rows, and the delivery log.
 */
class WebhookDeliveryTest {
  private static final String SECRET = "webhook-secret-0123456789";
  private static final String PATH = "/quota-events";

  private static TestPostgres postgres;
  private static Vertx vertx;
  private static Pool pool;

  private WireMockServer receiver;
  private final List<WebhookWorker> workers = new ArrayList<>();
  private long seq;
  private Instant lastRefusal;

  @BeforeAll
  static void startPostgres() {
    postgres = TestPostgres.start();
    vertx = Vertx.vertx();
    pool = postgres.database().pool(vertx, 8);
  }

  @AfterAll
  static void stopPostgres() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
    postgres.close();
  }

  @BeforeEach
  void start() {
    postgres.truncateAll();
    receiver = new WireMockServer(options().dynamicPort());
    receiver.start();
    answer(204);
  }

  @AfterEach
  void stop() throws Exception {
    for (WebhookWorker worker : workers) {
      worker.stop().await(10, TimeUnit.SECONDS);
    }
    receiver.stop();
  }

  private void answer(int status) {
    receiver.resetMappings();
    receiver.stubFor(post(urlEqualTo(PATH)).willReturn(aResponse().withStatus(status)));
  }

  private WebhookEndpoint endpoint(String name, String prefix, Set<QuotaEventType> events) {
    return new WebhookEndpoint(name, prefix, URI.create("http://127.0.0.1:" + receiver.port() + PATH), SECRET, events);
  }

  private WebhookWorker worker(Duration giveUpAfter, WebhookEndpoint... endpoints) {
    EventsConfig config = new EventsConfig(List.of(endpoints), Duration.ofMillis(50), Duration.ofMillis(400), giveUpAfter,
        Duration.ofMillis(50), Duration.ofSeconds(2));
    WebhookWorker worker = new WebhookWorker(vertx, pool, config).start();
    workers.add(worker);
    return worker;
  }

  private WebhookWorker worker() {
    return worker(Duration.ofMinutes(10), endpoint("ops", "", EnumSet.allOf(QuotaEventType.class)));
  }

  /** A push refused in {@code scope}, applied to the ledger as the feed applies it. */
  private String refuse(String repository, String scope) throws Exception {
    String id = repository.split("/")[0] + "/" + (1_796_000_000_000L + seq) + "-" + seq++;
    lastRefusal = Instant.now();
    LedgerEvent refusal = new Rejected(id, lastRefusal, repository, "alice", scope, "storage_bytes", 2048, 900, 1000, "storage_limit");
    new Ledger(pool).apply(List.of(refusal)).await(20, TimeUnit.SECONDS);
    return id;
  }

  /** Requests the receiver answered 2xx. */
  private List<ServeEvent> delivered() {
    return receiver.getAllServeEvents().stream().filter(event -> event.getResponse().getStatus() / 100 == 2).toList();
  }

  private List<Delivery> log(Query query) throws Exception {
    return new DeliveryLog(pool).page(query).await(20, TimeUnit.SECONDS).deliveries();
  }

  private List<Delivery> log() throws Exception {
    return log(new Query(null, null, null, null, null, null, 0, 100));
  }

  @Test
  void aRefusedPushIsPostedSignedWithTheEventInItsBody() throws Exception {
    worker();
    refuse("acme/app", "acme");

    eventually(Duration.ofSeconds(20), () -> assertThat(delivered()).hasSize(1));
    var request = delivered().get(0).getRequest();
    byte[] body = request.getBody();
    long timestamp = Long.parseLong(request.getHeader("X-Quota-Timestamp"));
    assertThat(WebhookSignature.verify(SECRET, timestamp, body, request.getHeader("X-Quota-Signature")))
        .as("the signature recomputed from the timestamp and body").isTrue();
    assertThat(request.getHeader("X-Quota-Signature")).startsWith("sha256=");
    assertThat(Math.abs(timestamp - Instant.now().getEpochSecond())).isLessThan(60);
    assertThat(request.getHeader("Content-Type")).isEqualTo("application/json");
    JsonObject event = new JsonObject(new String(body, java.nio.charset.StandardCharsets.UTF_8));
    assertThat(request.getHeader("X-Quota-Event-Id")).isEqualTo(event.getString("id"));
    assertThat(request.getHeader("X-Quota-Event-Type")).isEqualTo("QUOTA_EXCEEDED");
    assertThat(event.getString("type")).isEqualTo("QUOTA_EXCEEDED");
    assertThat(event.getString("scope")).isEqualTo("acme");
    assertThat(Instant.parse(event.getString("occurred_at"))).isEqualTo(lastRefusal.truncatedTo(java.time.temporal.ChronoUnit.MICROS));
    assertThat(event.getJsonObject("data")).isEqualTo(new JsonObject().put("repository", "acme/app").put("user", "alice")
        .put("resource", "storage_bytes").put("requested", 2048).put("usage", 900).put("limit", 1000).put("reason", "storage_limit"));

    eventually(Duration.ofSeconds(10), () -> assertThat(log()).singleElement().satisfies(delivery -> {
      assertThat(delivery.state()).isEqualTo("delivered");
      assertThat(delivery.endpoint()).isEqualTo("ops");
      assertThat(delivery.eventId()).isEqualTo(event.getString("id"));
      assertThat(delivery.attempts()).isEqualTo(1);
      assertThat(delivery.attemptLog()).singleElement().satisfies(attempt -> assertThat(attempt.status()).isEqualTo(204));
    }));
  }

  @Test
  void aReceiverAnswering503ForManyRetriesGetsEachEventOnceWhenItIsBack() throws Exception {
    answer(503);
    worker();
    refuse("acme/app", "acme");
    refuse("globex/app", "globex");

    // Down for as long as eight attempts each take, with the waits between them doubling (50 ms up to 400 ms).
    eventually(Duration.ofSeconds(30),
        () -> assertThat(log()).hasSize(2).allSatisfy(d -> assertThat(d.attempts()).isGreaterThanOrEqualTo(8)));
    assertThat(log()).allSatisfy(delivery -> {
      assertThat(delivery.state()).isEqualTo("pending");
      assertThat(delivery.lastStatus()).isEqualTo(503);
      assertThat(delivery.attemptLog()).allSatisfy(attempt -> assertThat(attempt.status()).isEqualTo(503));
    });
    answer(204);

    eventually(Duration.ofSeconds(20), () -> assertThat(log()).hasSize(2).allSatisfy(d -> assertThat(d.state()).isEqualTo("delivered")));
    assertThat(delivered()).hasSize(2);
    assertThat(delivered()).extracting(e -> e.getRequest().getHeader("X-Quota-Event-Id")).doesNotHaveDuplicates();
  }

  @Test
  void aReceiverThatIsStoppedGetsTheEventWhenItStartsAgain() throws Exception {
    int port = receiver.port();
    WebhookEndpoint endpoint = endpoint("ops", "", EnumSet.allOf(QuotaEventType.class));
    receiver.stop();
    worker(Duration.ofMinutes(10), endpoint);
    refuse("acme/app", "acme");

    eventually(Duration.ofSeconds(30), () -> assertThat(log()).singleElement().satisfies(d -> {
      assertThat(d.attempts()).isGreaterThanOrEqualTo(3);
      assertThat(d.lastStatus()).isNull();
      assertThat(d.lastError()).isNotBlank();
    }));
    receiver = new WireMockServer(options().port(port));
    receiver.start();
    answer(204);

    eventually(Duration.ofSeconds(20),
        () -> assertThat(log()).singleElement().satisfies(d -> assertThat(d.state()).isEqualTo("delivered")));
    assertThat(delivered()).hasSize(1);
  }

  @Test
  void aDeliveryIsGivenUpAsFailedOnceItsEventIsTooOld() throws Exception {
    answer(503);
    worker(Duration.ofSeconds(1), endpoint("ops", "", EnumSet.allOf(QuotaEventType.class)));
    refuse("acme/app", "acme");

    eventually(Duration.ofSeconds(20), () -> assertThat(log()).singleElement().satisfies(d -> {
      assertThat(d.state()).isEqualTo("failed");
      assertThat(d.lastStatus()).isEqualTo(503);
      assertThat(d.finishedAt()).isNotNull();
    }));
    int attempts = log().get(0).attempts();
    answer(204);
    refuse("acme/app", "acme");
    eventually(Duration.ofSeconds(20), () -> assertThat(delivered()).hasSize(1));
    assertThat(log(new Query("failed", null, null, null, null, null, 0, 100))).singleElement()
        .satisfies(d -> assertThat(d.attempts()).as("a failed delivery is not tried again").isEqualTo(attempts));
  }

  @Test
  void aWorkerRestartedWithPendingDeliveriesDeliversThem() throws Exception {
    answer(503);
    WebhookWorker first = worker();
    refuse("acme/app", "acme");
    eventually(Duration.ofSeconds(20),
        () -> assertThat(log()).singleElement().satisfies(d -> assertThat(d.attempts()).isGreaterThanOrEqualTo(2)));
    first.stop().await(10, TimeUnit.SECONDS);
    workers.remove(first);
    answer(204);
    refuse("acme/app", "acme");

    worker();

    eventually(Duration.ofSeconds(20), () -> assertThat(log()).hasSize(2).allSatisfy(d -> assertThat(d.state()).isEqualTo("delivered")));
    assertThat(delivered()).hasSize(2);
  }

  @Test
  void twoWorkersOnOnePostgresSendEachEventOnce() throws Exception {
    worker();
    worker();
    for (int i = 0; i < 30; i++) {
      refuse("acme/app" + i, "acme");
    }

    eventually(Duration.ofSeconds(30), () -> assertThat(delivered()).hasSize(30));
    assertThat(delivered()).extracting(e -> e.getRequest().getHeader("X-Quota-Event-Id")).doesNotHaveDuplicates();
    assertThat(log()).hasSize(30).allSatisfy(d -> assertThat(d.attempts()).isEqualTo(1));
  }

  @Test
  void eachEndpointTakesTheEventsOfItsScopePrefixAndTypes() throws Exception {
    worker(Duration.ofMinutes(10), endpoint("acme-team", "acme/team", EnumSet.of(QuotaEventType.QUOTA_EXCEEDED)),
        endpoint("acme-warnings", "acme", EnumSet.of(QuotaEventType.QUOTA_WARNING)),
        endpoint("everything", "", EnumSet.allOf(QuotaEventType.class)));
    refuse("acme/team/app", "acme"); // refused at acme, pushing into acme/team: acme-team's repository
    refuse("globex/app", "globex");

    eventually(Duration.ofSeconds(20), () -> assertThat(delivered()).hasSize(3));
    assertThat(log()).extracting(d -> d.endpoint() + " " + d.scope() + " " + d.data().getString("repository"))
        .containsExactlyInAnyOrder("acme-team acme acme/team/app", "everything acme acme/team/app", "everything globex globex/app");
    assertThat(log(new Query(null, "QUOTA_EXCEEDED", "everything", "globex", null, null, 0, 100)))
        .extracting(Delivery::scope).containsExactly("globex");
    assertThat(log(new Query(null, null, null, "acme", null, null, 0, 1))).hasSize(1);
    assertThat(new DeliveryLog(pool).page(new Query(null, null, null, "acme", null, null, 0, 1)).await(20, TimeUnit.SECONDS).total())
        .isEqualTo(2);
  }
}
