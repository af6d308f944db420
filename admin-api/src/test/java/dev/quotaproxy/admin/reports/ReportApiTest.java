package dev.quotaproxy.admin.reports;

import static dev.quotaproxy.admin.reports.ReportFixture.ADMIN;
import static dev.quotaproxy.admin.reports.ReportFixture.VIEWER;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.ledger.LedgerEvent.TrafficMetered;
import dev.quotaproxy.ledger.Retention;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Usage reports over a ledger fed with known pushes and pulls: their totals are what was pushed and
 * pulled, CSV says what JSON says, viewers see their scopes only. Retention runs last (see
 * {@link #aDailyReportIsTheSameBeforeAndAfterItsDaysAreRolledUp}), in a fixture of its own.
 */
class ReportApiTest {
  private static final String PERIOD = "from=2026-03-10&to=2026-03-13";
  static ReportFixture fixture;

  @BeforeAll
  static void start() throws Exception {
    fixture = new ReportFixture();
    feed(fixture);
  }

  /**
   * acme/app: two blobs pushed on the 10th by alice, pulled by carol on the 12th; acme/team/svc: one of
   * them pushed again by bob (new to acme/team, not to acme); globex/web: pushed by alice and pulled
   * by carol on the 11th.
   */
  static void feed(ReportFixture fixture) {
    fixture.push("2026-03-10T10:15:00Z", "acme/app", "alice", List.of("acme", "acme/app"), Map.of("sha256:a", 1000L, "sha256:b", 500L));
    fixture.push("2026-03-10T11:05:00Z", "acme/team/svc", "bob", List.of("acme/team", "acme/team/svc"), Map.of("sha256:a", 1000L));
    fixture.push("2026-03-11T09:00:00Z", "globex/web", "alice", List.of("globex", "globex/web"), Map.of("sha256:c", 2000L));
    fixture.pull("2026-03-11T12:30:00Z", "globex/web", "carol", 2000);
    fixture.pull("2026-03-12T08:10:00Z", "acme/app", "carol", 1500);
  }

  @AfterAll
  static void stop() throws Exception {
    fixture.close();
  }

  static JsonObject json(String query, String token) throws Exception {
    var response = fixture.get("/api/v1/reports/usage?" + query, token);
    assertThat(response.statusCode()).as(response.bodyAsString()).isEqualTo(200);
    assertThat(response.getHeader("Content-Type")).startsWith("application/json");
    return response.bodyAsJsonObject();
  }

  static long sum(Predicate<TrafficMetered> which, java.util.function.ToLongFunction<TrafficMetered> what) {
    return fixture.traffic.stream().filter(which).mapToLong(what).sum();
  }

  @Test
  void totalsAreWhatWasPushedAndPulledEachByteOnce() throws Exception {
    JsonObject totals = json(PERIOD, ADMIN).getJsonObject("totals");

    assertThat(totals.getLong("ingress_bytes")).isEqualTo(sum(t -> true, TrafficMetered::ingressBytes)).isEqualTo(4500);
    assertThat(totals.getLong("egress_bytes")).isEqualTo(sum(t -> true, TrafficMetered::egressBytes)).isEqualTo(3500);
    assertThat(totals.getLong("pushes")).isEqualTo(3);
    assertThat(totals.getLong("pulls")).isEqualTo(2);
    // acme's highest storage (1500: the shared blob counts once in it) plus globex's (2000).
    assertThat(totals.getLong("storage_peak_bytes")).isEqualTo(3500);

    JsonObject byUser = json(PERIOD + "&by=user", ADMIN).getJsonObject("totals");
    assertThat(byUser.getLong("ingress_bytes")).isEqualTo(4500);
    assertThat(byUser.getLong("egress_bytes")).isEqualTo(3500);
    assertThat(byUser.containsKey("storage_peak_bytes")).isFalse();
  }

  @Test
  void rowsPerScopeAndDayCarryStorageOverDaysWithoutAChange() throws Exception {
    JsonObject report = json(PERIOD + "&scope=acme", ADMIN);
    assertThat(report.getString("from")).isEqualTo("2026-03-10T00:00:00Z");
    assertThat(report.getString("to")).isEqualTo("2026-03-13T00:00:00Z");
    assertThat(rows(report, "acme")).containsExactly(
        row("2026-03-10T00:00:00Z", "acme", 1500, 2, 2, 2500, 0, 2, 0),
        row("2026-03-12T00:00:00Z", "acme", 1500, 2, 2, 0, 1500, 0, 1));
    assertThat(rows(report, "acme/team")).containsExactly(row("2026-03-10T00:00:00Z", "acme/team", 1000, 1, 1, 1000, 0, 1, 0));
    assertThat(keys(report)).containsExactly("acme", "acme/app", "acme/team", "acme/team/svc");
  }

  @Test
  void anHourlyReportStartsFromTheStorageBeforeIt() throws Exception {
    JsonObject report = json("by=scope&granularity=hour&from=2026-03-12T00:00:00Z&to=2026-03-12T12:00:00Z&scope=acme/app", ADMIN);
    assertThat(report.getJsonArray("rows")).containsExactly(row("2026-03-12T08:00:00Z", "acme/app", 1500, 1, 1, 0, 1500, 0, 1));
  }

  @Test
  void aReportByRepositoryHasRepositoriesOnlyAndByUserTheirTraffic() throws Exception {
    assertThat(keys(json(PERIOD + "&by=repository", ADMIN))).containsExactly("acme/app", "acme/team/svc", "globex/web");
    JsonObject byUser = json(PERIOD + "&by=user&granularity=day", ADMIN);
    assertThat(byUser.getJsonArray("rows")).contains(
        new JsonObject().put("bucket", "2026-03-11T00:00:00Z").put("key", "carol").put("ingress_bytes", 0L)
            .put("egress_bytes", 2000L).put("pushes", 0L).put("pulls", 1L));
    assertThat(keys(byUser)).containsExactly("alice", "bob", "carol");
  }

  @Test
  void csvIsStreamedWithAHeaderAndSaysWhatJsonSays() throws Exception {
    for (String by : List.of("scope", "repository", "user")) {
      JsonObject report = json(PERIOD + "&by=" + by, ADMIN);
      var csv = fixture.get("/api/v1/reports/usage?" + PERIOD + "&by=" + by + "&format=csv", ADMIN);
      assertThat(csv.statusCode()).isEqualTo(200);
      assertThat(csv.getHeader("Content-Type")).startsWith("text/csv");
      assertThat(csv.getHeader("Content-Disposition")).contains("usage-by-" + by + "-2026-03-10-2026-03-13.csv");
      List<List<String>> records = CsvTest.parse(csv.bodyAsString());
      List<String> header = records.get(0);
      assertThat(header.get(1)).isEqualTo(by);
      List<JsonObject> fromCsv = new ArrayList<>();
      for (List<String> record : records.subList(1, records.size())) {
        JsonObject row = new JsonObject().put("bucket", record.get(0)).put("key", record.get(1));
        for (int i = 2; i < header.size(); i++) {
          row.put(header.get(i), Long.parseLong(record.get(i)));
        }
        fromCsv.add(row);
      }
      assertThat(fromCsv).as(by).isEqualTo(report.getJsonArray("rows").getList().stream()
          .map(row -> row instanceof JsonObject object ? object : new JsonObject((Map<String, Object>) row)).toList());
    }
    var accepted = fixture.send(fixture.client.get(fixture.server.actualPort(), "127.0.0.1", "/api/v1/reports/usage?" + PERIOD)
        .putHeader("Accept", "text/csv"), ADMIN);
    assertThat(accepted.getHeader("Content-Type")).startsWith("text/csv");
    assertThat(accepted.bodyAsString())
        .startsWith("bucket,scope,storage_bytes,repositories,manifests,ingress_bytes,egress_bytes,pushes,pulls,storage_end_bytes,"
            + "repositories_end,manifests_end\r\n");
  }

  @Test
  void aViewerSeesItsScopesOnly() throws Exception {
    JsonObject report = json(PERIOD, VIEWER);
    assertThat(keys(report)).containsExactly("acme", "acme/app", "acme/team", "acme/team/svc");
    assertThat(report.getJsonObject("totals").getLong("ingress_bytes")).isEqualTo(2500);
    assertThat(keys(json(PERIOD + "&by=user", VIEWER))).containsExactly("alice", "bob", "carol");
    assertThat(json(PERIOD + "&by=user", VIEWER).getJsonObject("totals").getLong("egress_bytes")).isEqualTo(1500);
    assertThat(keys(json(PERIOD + "&by=repository", VIEWER))).containsExactly("acme/app", "acme/team/svc");

    var refused = fixture.get("/api/v1/reports/usage?" + PERIOD + "&scope=globex", VIEWER);
    assertThat(refused.statusCode()).isEqualTo(403);
    assertThat(refused.bodyAsJsonObject().getJsonObject("error").getString("message")).contains("globex");
  }

  @Test
  void badParametersAre400WithTheReason() throws Exception {
    assertThat(message("from=2026-03-13&to=2026-03-10")).contains("before");
    assertThat(message("from=yesterday")).contains("ISO-8601");
    assertThat(message("scope=Acme")).contains("scope 'Acme'");
    assertThat(message("granularity=week")).isNotEmpty();
    assertThat(message("granularity=hour&from=2020-01-01&to=2026-01-01")).contains("granularity=day");
    assertThat(fixture.get("/api/v1/reports/usage", null).statusCode()).isEqualTo(401);
  }

  private static String message(String query) throws Exception {
    var response = fixture.get("/api/v1/reports/usage?" + query, ADMIN);
    assertThat(response.statusCode()).as(query).isEqualTo(400);
    return response.bodyAsJsonObject().getJsonObject("error").getString("message");
  }

  @Test
  void aYearOfHourlyRowsIsStreamedInChunks() throws Exception {
    fixture.sql("""
        insert into usage_hourly (scope, hour, storage_high_water, ingress_bytes, egress_bytes, pushes, pulls)
        select 'bulk' || n, h, 0, 1, 2, 0, 0
        from generate_series(timestamptz '2025-01-01', timestamptz '2025-12-31 23:00', interval '1 hour') as h,
             generate_series(1, 3) as n""");
    try {
      var csv = fixture.get("/api/v1/reports/usage?granularity=hour&from=2025-01-01&to=2026-01-01&format=csv", ADMIN);
      assertThat(csv.statusCode()).isEqualTo(200);
      assertThat(csv.getHeader("Transfer-Encoding")).isEqualTo("chunked");
      String body = csv.bodyAsString();
      assertThat(body.split("\r\n")).hasSize(1 + 3 * 8760);
      assertThat(body).contains("\r\n2025-12-31T23:00:00Z,bulk3,0,0,0,1,2,0,0,0,0,0\r\n");
    } finally {
      fixture.sql("delete from usage_hourly where scope like 'bulk%'");
    }
  }

  /**
   * initech/app: pushed at 10:15 (a repository, a manifest) and again at 12:10 (a second manifest), pulled at 13:05;
   * initech/tmp: pushed at 10:30 and emptied at 10:45. Hand-computed: initech held at most 2 repositories and 2
   * manifests at 10:xx, 1 and 2 from 12:xx on; rows are carried through hours without a change as storage is, each
   * figure at the level its last change left (storage: 110 at 10:xx, and the 100 left after initech/tmp's delete).
   */
  @Test
  void countsAreEachBucketsHighWaterCarriedThroughBucketsWithoutAChange() throws Exception {
    try (ReportFixture other = new ReportFixture()) {
      other.push("2026-03-10T10:15:00Z", "initech/app", "alice", List.of("initech", "initech/app"), Map.of("sha256:a", 100L));
      other.push("2026-03-10T10:30:00Z", "initech/tmp", "alice", List.of("initech", "initech/tmp"), Map.of("sha256:t", 10L));
      other.deleteAll("2026-03-10T10:45:00Z", "initech/tmp", "2026-03-10T10:30:00Z", List.of("initech", "initech/tmp"),
          Map.of("sha256:t", 10L));
      other.push("2026-03-10T12:10:00Z", "initech/app", "bob", List.of(), Map.of("sha256:a", 100L));
      other.pull("2026-03-10T13:05:00Z", "initech/app", "carol", 100);
      ReportFixture saved = fixture;
      fixture = other;
      try {
        JsonObject hourly = json("granularity=hour&from=2026-03-10T10:00:00Z&to=2026-03-10T14:00:00Z&scope=initech", ADMIN);
        assertThat(rows(hourly, "initech")).containsExactly(
            ending(row("2026-03-10T10:00:00Z", "initech", 110, 2, 2, 110, 0, 2, 0), 100, 1, 1),
            row("2026-03-10T12:00:00Z", "initech", 100, 1, 2, 100, 0, 1, 0),
            row("2026-03-10T13:00:00Z", "initech", 100, 1, 2, 0, 100, 0, 1));
        assertThat(rows(hourly, "initech/tmp")).as("emptied within its hour")
            .containsExactly(ending(row("2026-03-10T10:00:00Z", "initech/tmp", 10, 1, 1, 10, 0, 1, 0), 0, 0, 0));
        JsonObject fromLater = json("granularity=hour&from=2026-03-10T13:00:00Z&to=2026-03-10T14:00:00Z&scope=initech", ADMIN);
        assertThat(rows(fromLater, "initech")).as("seeded with the last counts before the period")
            .containsExactly(row("2026-03-10T13:00:00Z", "initech", 100, 1, 2, 0, 100, 0, 1));
        JsonObject daily = json("from=2026-03-10&to=2026-03-11&scope=initech", ADMIN);
        assertThat(rows(daily, "initech"))
            .containsExactly(ending(row("2026-03-10T00:00:00Z", "initech", 110, 2, 2, 210, 100, 3, 1), 100, 1, 2));

        var csv = CsvTest.parse(fixture.get("/api/v1/reports/usage?from=2026-03-10&to=2026-03-11&scope=initech&format=csv", ADMIN)
            .bodyAsString());
        assertThat(csv.get(0)).containsExactly("bucket", "scope", "storage_bytes", "repositories", "manifests", "ingress_bytes",
            "egress_bytes", "pushes", "pulls", "storage_end_bytes", "repositories_end", "manifests_end");
        assertThat(csv.get(1)).containsExactly("2026-03-10T00:00:00Z", "initech", "110", "2", "2", "210", "100", "3", "1", "100", "1",
            "2");
      } finally {
        fixture = saved;
      }
    }
  }

  /**
   * umbrella, written into the ledger's table with its closes: on 04-01 it reached 150 and was left at 100 (3
   * repositories left at 2, 5 manifests at 4); on 04-02 at 02:00 a delete: high 100, left at 40 (repositories 2 -> 1,
   * manifests 4 -> 3); the hours around it saw traffic only. The delete hour shows its high, the hours and the day
   * after it what was left; the period starts from where 04-01 left each figure, not from its high.
   */
  @Test
  void afterADeleteTheBucketsWithoutAChangeShowWhatWasLeft() throws Exception {
    String insert = """
        insert into usage_hourly (scope, hour, storage_high_water, storage_close, egress_bytes, repositories_high_water,
                                  repositories_close, manifests_high_water, manifests_close)
        values ('umbrella', $1, $2, $3, $4, $5, $6, $7, $8)""";
    fixture.sql(insert, java.time.OffsetDateTime.parse("2026-04-01T10:00:00Z"), 150L, 100L, 0L, 3L, 2L, 5L, 4L);
    fixture.sql(insert, java.time.OffsetDateTime.parse("2026-04-02T01:00:00Z"), 0L, null, 1L, 0L, null, 0L, null);
    fixture.sql(insert, java.time.OffsetDateTime.parse("2026-04-02T02:00:00Z"), 100L, 40L, 0L, 2L, 1L, 4L, 3L);
    fixture.sql(insert, java.time.OffsetDateTime.parse("2026-04-02T03:00:00Z"), 0L, null, 5L, 0L, null, 0L, null);
    fixture.sql(insert, java.time.OffsetDateTime.parse("2026-04-02T04:00:00Z"), 0L, null, 7L, 0L, null, 0L, null);
    fixture.sql(insert, java.time.OffsetDateTime.parse("2026-04-03T05:00:00Z"), 0L, null, 2L, 0L, null, 0L, null);
    try {
      JsonObject hourly = json("granularity=hour&from=2026-04-02T00:00:00Z&to=2026-04-02T05:00:00Z&scope=umbrella", ADMIN);
      assertThat(rows(hourly, "umbrella")).containsExactly(
          row("2026-04-02T01:00:00Z", "umbrella", 100, 2, 4, 0, 1, 0, 0),
          ending(row("2026-04-02T02:00:00Z", "umbrella", 100, 2, 4, 0, 0, 0, 0), 40, 1, 3),
          row("2026-04-02T03:00:00Z", "umbrella", 40, 1, 3, 0, 5, 0, 0),
          row("2026-04-02T04:00:00Z", "umbrella", 40, 1, 3, 0, 7, 0, 0));
      JsonObject daily = json("from=2026-04-02&to=2026-04-04&scope=umbrella", ADMIN);
      assertThat(rows(daily, "umbrella")).containsExactly(
          ending(row("2026-04-02T00:00:00Z", "umbrella", 100, 2, 4, 0, 13, 0, 0), 40, 1, 3),
          row("2026-04-03T00:00:00Z", "umbrella", 40, 1, 3, 0, 2, 0, 0));
      assertThat(daily.getJsonObject("totals").getLong("storage_peak_bytes")).isEqualTo(100);
    } finally {
      fixture.sql("delete from usage_hourly where scope = 'umbrella'");
    }
  }

  @Test
  void aDailyReportIsTheSameBeforeAndAfterItsDaysAreRolledUp() throws Exception {
    try (ReportFixture other = new ReportFixture()) {
      feed(other);
      ReportFixture saved = fixture;
      fixture = other;
      try {
        JsonObject before = json(PERIOD, ADMIN);
        JsonObject hourlyBefore = json("granularity=hour&" + PERIOD, ADMIN);
        // Keeps a day: the 10th is rolled up into usage_daily, the 11th and 12th stay hourly.
        var rolled = new Retention(other.pool).rollUp(Instant.parse("2026-03-12T05:00:00Z"), 1).await(20, TimeUnit.SECONDS);
        assertThat(rolled.usageHours()).isPositive();
        assertThat(other.sql("select count(*) from usage_hourly where hour < '2026-03-11'").iterator().next().getLong(0)).isZero();

        assertThat(json(PERIOD, ADMIN)).isEqualTo(before);
        JsonObject hourlyAfter = json("granularity=hour&" + PERIOD, ADMIN);
        assertThat(hourlyAfter.getJsonObject("totals").getLong("ingress_bytes"))
            .isEqualTo(hourlyBefore.getJsonObject("totals").getLong("ingress_bytes"));
        // The rolled-up day is one row at its 00:00 in an hourly report.
        assertThat(rows(hourlyAfter, "acme")).first().isEqualTo(row("2026-03-10T00:00:00Z", "acme", 1500, 2, 2, 2500, 0, 2, 0));
      } finally {
        fixture = saved;
      }
    }
  }

  static JsonObject row(String bucket, String key, long storage, long repositories, long manifests, long ingress, long egress,
      long pushes, long pulls) {
    return new JsonObject().put("bucket", bucket).put("key", key).put("storage_bytes", storage).put("repositories", repositories)
        .put("manifests", manifests).put("ingress_bytes", ingress).put("egress_bytes", egress).put("pushes", pushes).put("pulls", pulls)
        .put("storage_end_bytes", storage).put("repositories_end", repositories).put("manifests_end", manifests);
  }

  /** The row, its bucket leaving its figures at these levels (below its highs: something was deleted in it). */
  static JsonObject ending(JsonObject row, long storage, long repositories, long manifests) {
    return row.copy().put("storage_end_bytes", storage).put("repositories_end", repositories).put("manifests_end", manifests);
  }

  static List<JsonObject> rows(JsonObject report, String key) {
    JsonArray rows = report.getJsonArray("rows");
    List<JsonObject> of = new ArrayList<>();
    for (int i = 0; i < rows.size(); i++) {
      if (rows.getJsonObject(i).getString("key").equals(key)) {
        of.add(rows.getJsonObject(i));
      }
    }
    return of;
  }

  static List<String> keys(JsonObject report) {
    JsonArray rows = report.getJsonArray("rows");
    List<String> keys = new ArrayList<>();
    for (int i = 0; i < rows.size(); i++) {
      keys.add(rows.getJsonObject(i).getString("key"));
    }
    return keys.stream().distinct().collect(Collectors.toList());
  }
}
