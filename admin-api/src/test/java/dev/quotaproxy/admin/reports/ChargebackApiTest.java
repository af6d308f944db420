package dev.quotaproxy.admin.reports;

import static dev.quotaproxy.admin.reports.ReportFixture.ADMIN;
import static dev.quotaproxy.admin.reports.ReportFixture.VIEWER;
import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import java.math.BigDecimal;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Shares, the price list and chargeback statements through the API, over a real Postgres fed through
 * the ledger. September 2026 (720 hours), prices changing on the 16th (two halves of 360 hours):
 *
 * <pre>
 * prices          storage/GiB-month  egress/GiB  ingress/GiB  per 1,000 pulls
 * from 2026-08-01 0.10               0.05        0.01         400
 * from 2026-09-16 0.16               0.08        0.02         500
 *
 * acme/app   09-03 00:00 pushed 2 GiB (acme stores 2 GiB from hour 48); pulled 4 GiB on 09-05 12:00, 2 GiB on 09-20 06:00
 * globex/web 09-10 00:00 pushed 1 GiB (from hour 216)
 *
 * acme   storage 312 h x 2 GiB = 624 GiB-h (0.866667 GiB-months) x 0.10 = 0.0867 -> 0.09; 720 GiB-h (1) x 0.16 = 0.16
 *        egress 4 GiB x 0.05 = 0.20; 2 GiB x 0.08 = 0.16; ingress 2 GiB x 0.01 = 0.02; pulls 1 x 0.40, 1 x 0.50
 *        = 1.53
 * globex storage 144 GiB-h (0.2) x 0.10 = 0.02; 360 GiB-h (0.5) x 0.16 = 0.08; ingress 1 GiB x 0.01 = 0.01 = 0.11
 * total 1.64
 * </pre>
 */
class ChargebackApiTest {
  private static final long GIB = 1L << 30;
  private static final String MONTH = "month=2026-09";
  static ReportFixture fixture;

  @BeforeAll
  static void start() throws Exception {
    fixture = new ReportFixture();
    fixture.push("2026-09-03T00:00:00Z", "acme/app", "alice", List.of("acme", "acme/app"), Map.of("sha256:big", 2 * GIB));
    fixture.push("2026-09-10T00:00:00Z", "globex/web", "bob", List.of("globex", "globex/web"), Map.of("sha256:web", GIB));
    fixture.pull("2026-09-05T12:00:00Z", "acme/app", "carol", 4 * GIB);
    fixture.pull("2026-09-20T06:00:00Z", "acme/app", "carol", 2 * GIB);
  }

  @AfterAll
  static void stop() throws Exception {
    fixture.close();
  }

  @BeforeEach
  void clean() throws Exception {
    fixture.sql("delete from report_groups");
    fixture.sql("delete from price_versions");
    fixture.sql("delete from audit_log");
  }

  static HttpResponse<Buffer> put(String path, JsonObject body, String token) throws Exception {
    var request = fixture.client.put(fixture.server.actualPort(), "127.0.0.1", path);
    request.bearerTokenAuthentication(token);
    return request.sendJsonObject(body).await(20, TimeUnit.SECONDS);
  }

  static JsonObject prices(String storage, String egress, String ingress, String pulls) {
    return new JsonObject().put("currency", "EUR").put("storage_gib_month", storage).put("egress_gib", egress)
        .put("ingress_gib", ingress).put("pulls_1000", pulls);
  }

  static void septemberPrices() throws Exception {
    assertThat(put("/api/v1/prices/2026-08-01", prices("0.10", "0.05", "0.01", "400"), ADMIN).statusCode()).isEqualTo(201);
    assertThat(put("/api/v1/prices/2026-09-16", prices("0.16", "0.08", "0.02", "500"), ADMIN).statusCode()).isEqualTo(201);
  }

  static JsonObject statement(String query, String token) throws Exception {
    var response = fixture.get("/api/v1/reports/chargeback?" + MONTH + "&" + query, token);
    assertThat(response.statusCode()).as(response.bodyAsString()).isEqualTo(200);
    return response.bodyAsJsonObject();
  }

  static JsonObject report(String query, String token) throws Exception {
    var response = fixture.get("/api/v1/reports/usage?" + query, token);
    assertThat(response.statusCode()).as(response.bodyAsString()).isEqualTo(200);
    return response.bodyAsJsonObject();
  }

  static List<JsonObject> lines(JsonObject statement, String key, String item) {
    return statement.getJsonArray("lines").stream().map(JsonObject.class::cast)
        .filter(line -> line.getString("key").equals(key) && line.getString("item").equals(item)).toList();
  }

  static List<String> amounts(JsonObject statement, String key, String item) {
    return lines(statement, key, item).stream().map(line -> line.getString("amount")).toList();
  }

  static BigDecimal sumOfLines(JsonObject statement) {
    return statement.getJsonArray("lines").stream().map(JsonObject.class::cast)
        .map(line -> new BigDecimal(line.getString("amount"))).reduce(BigDecimal.ZERO, BigDecimal::add);
  }

  @Test
  void aStatementByScopeHasTheHandComputedFiguresAcrossTheMidMonthPriceChange() throws Exception {
    septemberPrices();
    JsonObject statement = statement("by=scope", ADMIN);

    assertThat(statement.getString("currency")).isEqualTo("EUR");
    assertThat(statement.getLong("hours")).isEqualTo(720);
    assertThat(statement.getBoolean("complete")).isTrue();
    assertThat(statement.getJsonArray("prices")).hasSize(2);
    List<JsonObject> storage = lines(statement, "acme", "storage");
    assertThat(storage).extracting(line -> line.getString("from") + " " + line.getString("to") + " " + line.getString("quantity")
        + " x " + line.getString("unit_price") + " = " + line.getString("amount")).containsExactly(
            "2026-09-01T00:00:00Z 2026-09-16T00:00:00Z 0.866667 x 0.1 = 0.09",
            "2026-09-16T00:00:00Z 2026-10-01T00:00:00Z 1.000000 x 0.16 = 0.16");
    assertThat(storage.get(0).getString("measured")).isEqualTo(Long.toString(624 * GIB));
    assertThat(amounts(statement, "acme", "egress")).containsExactly("0.20", "0.16");
    assertThat(amounts(statement, "acme", "ingress")).containsExactly("0.02");
    assertThat(amounts(statement, "acme", "pulls")).containsExactly("0.40", "0.50");
    assertThat(amounts(statement, "globex", "storage")).containsExactly("0.02", "0.08");
    assertThat(amounts(statement, "globex", "ingress")).containsExactly("0.01");
    assertThat(statement.getJsonObject("totals").getMap()).isEqualTo(Map.of("acme", "1.53", "globex", "0.11"));
    assertThat(statement.getString("total")).isEqualTo("1.64");
    assertThat(sumOfLines(statement)).isEqualByComparingTo(statement.getString("total"));
  }

  @Test
  void itsQuantitiesAreTheUsageReportsFigures() throws Exception {
    septemberPrices();
    JsonObject statement = statement("by=scope", ADMIN);
    JsonObject totals = report("from=2026-09-01&to=2026-10-01", ADMIN).getJsonObject("totals");
    for (String item : List.of("ingress", "egress", "pulls")) {
      long measured = statement.getJsonArray("lines").stream().map(JsonObject.class::cast)
          .filter(line -> line.getString("item").equals(item)).mapToLong(line -> Long.parseLong(line.getString("measured"))).sum();
      assertThat(measured).as(item).isEqualTo(totals.getLong(item.equals("pulls") ? "pulls" : item + "_bytes"));
    }
    // Storage: each hour of the month at the level the hourly report shows, carried between its rows.
    JsonObject hourly = report("granularity=hour&from=2026-09-01&to=2026-10-01", ADMIN);
    long byteHours = 0;
    for (String key : List.of("acme", "globex")) {
      List<JsonObject> rows = ReportApiTest.rows(hourly, key);
      for (int i = 0; i < rows.size(); i++) {
        long from = java.time.Instant.parse(rows.get(i).getString("bucket")).getEpochSecond();
        long to = i + 1 < rows.size()
            ? java.time.Instant.parse(rows.get(i + 1).getString("bucket")).getEpochSecond()
            : java.time.Instant.parse("2026-10-01T00:00:00Z").getEpochSecond();
        byteHours += rows.get(i).getLong("storage_bytes") * ((to - from) / 3600);
      }
    }
    long measured = lines(statement, "acme", "storage").stream().mapToLong(line -> Long.parseLong(line.getString("measured"))).sum()
        + lines(statement, "globex", "storage").stream().mapToLong(line -> Long.parseLong(line.getString("measured"))).sum();
    assertThat(measured).isEqualTo(byteHours).isEqualTo((624 + 720 + 144 + 360) * GIB);
  }

  @Test
  void csvSaysWhatJsonSays() throws Exception {
    septemberPrices();
    JsonObject statement = statement("by=scope", ADMIN);
    var response = fixture.get("/api/v1/reports/chargeback?" + MONTH + "&format=csv", ADMIN);
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.getHeader("Content-Type")).startsWith("text/csv");
    List<String> records = List.of(response.bodyAsString().split("\r\n"));
    assertThat(records.get(0))
        .isEqualTo("scope,item,from,to,quantity,unit,unit_price,currency,amount,measured,measured_unit,split");
    assertThat(records).hasSize(statement.getJsonArray("lines").size() + 1);
    assertThat(records.get(1)).isEqualTo("acme,storage,2026-09-01T00:00:00Z,2026-09-16T00:00:00Z,0.866667,GiB-month,0.1,EUR,0.09,"
        + 624 * GIB + ",byte-hours,");
    BigDecimal sum = records.stream().skip(1).map(record -> new BigDecimal(record.split(",")[8])).reduce(BigDecimal.ZERO,
        BigDecimal::add);
    assertThat(sum).isEqualByComparingTo(statement.getString("total"));
  }

  /**
   * uni takes 60% of acme and all of globex, corp 40% of acme. uni: storage (0.6 x 624 + 144 = 518.4
   * GiB-h) 0.072 -> 0.07, (0.6 x 720 + 360 = 792) 0.176 -> 0.18; egress 2.4 GiB 0.12, 1.2 GiB 0.096 -> 0.10;
   * ingress 2.2 GiB 0.022 -> 0.02; pulls 0.6 x 0.40 = 0.24, 0.6 x 0.50 = 0.30: 1.03. corp: storage 0.0347
   * -> 0.03, 0.064 -> 0.06; egress 0.08, 0.064 -> 0.06; ingress 0.008 -> 0.01; pulls 0.16, 0.20: 0.60.
   */
  @Test
  void thePdfHasThePricesTheLinesAndTheTotal() throws Exception {
    septemberPrices();
    var response = fixture.get("/api/v1/reports/chargeback?" + MONTH + "&format=pdf", ADMIN);
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.getHeader("Content-Type")).isEqualTo("application/pdf");
    try (var document = org.apache.pdfbox.Loader.loadPDF(response.body().getBytes())) {
      String text = new org.apache.pdfbox.text.PDFTextStripper().getText(document);
      assertThat(text).contains("quota-proxy chargeback statement 2026-09").contains("from 2026-09-16")
          .contains("0.866667").contains("1.53").contains("1.64");
    }
  }

  @Test
  void aStatementByGroupAppliesTheSharesAndSaysWhichLinesWereSplit() throws Exception {
    septemberPrices();
    assertThat(put("/api/v1/groups/uni", new JsonObject().put("scopes", new JsonArray(List.of("acme", "globex")))
        .put("shares", new JsonObject().put("acme", "60%")), ADMIN).statusCode()).isEqualTo(201);
    var corp = put("/api/v1/groups/corp", new JsonObject().put("scopes", new JsonArray(List.of("acme")))
        .put("shares", new JsonObject().put("acme", 40)), ADMIN);
    assertThat(corp.statusCode()).as(corp.bodyAsString()).isEqualTo(201);
    assertThat(corp.bodyAsJsonObject().getJsonObject("shares").getMap()).containsEntry("acme", 40);

    JsonObject statement = statement("by=group", ADMIN);
    assertThat(amounts(statement, "uni", "storage")).containsExactly("0.07", "0.18");
    assertThat(amounts(statement, "uni", "egress")).containsExactly("0.12", "0.10");
    assertThat(amounts(statement, "uni", "ingress")).containsExactly("0.02");
    assertThat(amounts(statement, "uni", "pulls")).containsExactly("0.24", "0.30");
    assertThat(statement.getJsonObject("totals").getMap()).isEqualTo(Map.of("corp", "0.60", "uni", "1.03"));
    assertThat(statement.getString("total")).isEqualTo("1.63");
    assertThat(sumOfLines(statement)).isEqualByComparingTo("1.63");
    assertThat(lines(statement, "uni", "storage").get(0).getJsonObject("split").getMap()).isEqualTo(Map.of("acme", 60));

    // The usage report by group applies them too, and marks the rows.
    JsonObject report = report("by=group&from=2026-09-03&to=2026-09-04", ADMIN);
    JsonObject uni = ReportApiTest.rows(report, "uni").get(0);
    assertThat(uni.getLong("storage_bytes")).isEqualTo(Math.round(0.6 * 2 * GIB)); // 1288490188.8, half-even
    assertThat(uni.getJsonObject("split").getMap()).isEqualTo(Map.of("acme", 60));
    assertThat(List.of(uni.getLong("repositories"), uni.getLong("manifests"))).as("a share splits bytes, not repositories")
        .containsExactly(1L, 1L);
  }

  @Test
  void sharesOfAScopeAddingUpToMoreThanAHundredAreRefusedNamingTheScopeAndTheSum() throws Exception {
    put("/api/v1/groups/uni", new JsonObject().put("scopes", new JsonArray(List.of("acme"))).put("shares",
        new JsonObject().put("acme", "60%")), ADMIN);
    var refused = put("/api/v1/groups/corp", new JsonObject().put("scopes", new JsonArray(List.of("acme/team")))
        .put("shares", new JsonObject().put("acme/team", "45%")), ADMIN);
    assertThat(refused.statusCode()).isEqualTo(400);
    JsonObject error = refused.bodyAsJsonObject().getJsonObject("error");
    assertThat(error.getString("code")).isEqualTo("SHARES_OVER_100");
    assertThat(error.getString("message")).contains("acme/team").contains("105%");
    assertThat(error.getJsonObject("details").getString("scope")).isEqualTo("acme/team");
    assertThat(error.getJsonObject("details").getValue("sum")).isEqualTo(105);
    assertThat(fixture.get("/api/v1/groups/corp", ADMIN).statusCode()).isEqualTo(404);

    var share = put("/api/v1/groups/corp", new JsonObject().put("scopes", new JsonArray(List.of("acme", "acme/team")))
        .put("shares", new JsonObject().put("acme/team", "10")), ADMIN);
    assertThat(share.statusCode()).isEqualTo(400);
    assertThat(share.bodyAsJsonObject().getJsonObject("error").getString("message")).contains("under another scope");
    assertThat(put("/api/v1/groups/corp", new JsonObject().put("scopes", new JsonArray(List.of("acme"))).put("shares",
        new JsonObject().put("acme", "140%")), ADMIN).statusCode()).isEqualTo(400);
    // Groups without shares may still overlap, each counting the scope whole, as before shares.
    assertThat(put("/api/v1/groups/a", new JsonObject().put("scopes", new JsonArray(List.of("globex"))), ADMIN).statusCode())
        .isEqualTo(201);
    assertThat(put("/api/v1/groups/b", new JsonObject().put("scopes", new JsonArray(List.of("globex"))), ADMIN).statusCode())
        .isEqualTo(201);
  }

  @Test
  void pricesAreSetByAdminsAuditedAndInOneCurrency() throws Exception {
    assertThat(fixture.get("/api/v1/reports/chargeback?" + MONTH, ADMIN).bodyAsJsonObject().getJsonObject("error")
        .getString("code")).isEqualTo("NO_PRICES");
    assertThat(put("/api/v1/prices/2026-08-01", prices("0.1", "0.05", "0.01", "0.4"), VIEWER).statusCode()).isEqualTo(403);
    septemberPrices();
    assertThat(put("/api/v1/prices/2026-09-16", prices("0.2", "0.08", "0.02", "0.5"), ADMIN).statusCode()).isEqualTo(200);
    var usd = put("/api/v1/prices/2026-10-01", prices("0.2", "0.08", "0.02", "0.5").put("currency", "USD"), ADMIN);
    assertThat(usd.statusCode()).isEqualTo(400);
    assertThat(usd.bodyAsJsonObject().getJsonObject("error").getString("code")).isEqualTo("CURRENCY");
    assertThat(put("/api/v1/prices/2026-10-01", prices("-1", "0", "0", "0"), ADMIN).statusCode()).isEqualTo(400);
    assertThat(put("/api/v1/prices/2026-13-01", prices("1", "0", "0", "0"), ADMIN).statusCode()).isEqualTo(400);

    JsonArray versions = fixture.get("/api/v1/prices", VIEWER).bodyAsJsonObject().getJsonArray("versions");
    assertThat(
        versions.stream().map(JsonObject.class::cast).map(v -> v.getString("effective_from") + " " + v.getString("storage_gib_month"))
            .collect(Collectors.toList()))
        .containsExactly("2026-08-01 0.1", "2026-09-16 0.2");
    var delete = fixture.send(fixture.client.delete(fixture.server.actualPort(), "127.0.0.1", "/api/v1/prices/2026-09-16"), ADMIN);
    assertThat(delete.statusCode()).isEqualTo(204);
    var audit = fixture.sql("select actor, action, subject from audit_log order by id");
    assertThat(audit.size()).isEqualTo(4);
    List<String> actions = new java.util.ArrayList<>();
    audit.forEach(row -> actions.add(row.getString("action") + " " + row.getString("subject")));
    assertThat(actions).containsExactly("prices.put 2026-08-01", "prices.put 2026-09-16", "prices.put 2026-09-16",
        "prices.delete 2026-09-16");
  }

  @Test
  void aViewersStatementCoversItsScopesOnly() throws Exception {
    septemberPrices();
    JsonObject statement = statement("by=scope", VIEWER);
    assertThat(statement.getJsonObject("totals").getMap()).isEqualTo(Map.of("acme", "1.53"));
    assertThat(fixture.get("/api/v1/reports/chargeback?" + MONTH + "&scope=globex", VIEWER).statusCode()).isEqualTo(403);
    assertThat(fixture.get("/api/v1/reports/chargeback?month=2026-9", ADMIN).statusCode()).isEqualTo(400);
    assertThat(fixture.get("/api/v1/reports/chargeback?month=2099-01", ADMIN).statusCode()).isEqualTo(400);
    assertThat(fixture.get("/api/v1/reports/chargeback?" + MONTH + "&by=user", ADMIN).statusCode()).isEqualTo(400);
  }

  /**
   * October 2026 (744 hours, one price: 0.16 per GiB-month, 0.08 per egress GiB), initech written into the ledger's
   * table with its closes: 10 GiB from 10-01 00:00; in hour 4, 6 GiB deleted (high 10 GiB, left at 4 GiB); 1 GiB
   * pulled on 10-10. Storage 10 GiB x 5 h (the delete hour at its high) + 4 GiB x 739 h = 3,006 GiB-h = 4.040323
   * GiB-months x 0.16 = 0.6465 -> 0.65; egress 0.08; total 0.73. (Carrying the high water: 10 GiB-months, 1.60.)
   */
  @Test
  void afterADeleteTheHoursAreChargedAtTheLevelLeftNotTheHigh() throws Exception {
    septemberPrices();
    String insert = """
        insert into usage_hourly (scope, hour, storage_high_water, storage_close, egress_bytes) values ('initech', $1, $2, $3, $4)""";
    fixture.sql(insert, java.time.OffsetDateTime.parse("2026-10-01T00:00:00Z"), 10 * GIB, 10 * GIB, 0L);
    fixture.sql(insert, java.time.OffsetDateTime.parse("2026-10-01T04:00:00Z"), 10 * GIB, 4 * GIB, 0L);
    fixture.sql(insert, java.time.OffsetDateTime.parse("2026-10-10T00:00:00Z"), 0L, null, GIB);
    try {
      var response = fixture.get("/api/v1/reports/chargeback?month=2026-10&scope=initech", ADMIN);
      assertThat(response.statusCode()).as(response.bodyAsString()).isEqualTo(200);
      JsonObject statement = response.bodyAsJsonObject();
      assertThat(statement.getLong("hours")).isEqualTo(744);
      List<JsonObject> storage = lines(statement, "initech", "storage");
      assertThat(storage).hasSize(1);
      assertThat(storage.get(0).getString("measured")).isEqualTo(Long.toString(3006 * GIB));
      assertThat(storage.get(0).getString("quantity")).isEqualTo("4.040323");
      assertThat(storage.get(0).getString("amount")).isEqualTo("0.65");
      assertThat(amounts(statement, "initech", "egress")).containsExactly("0.08");
      assertThat(statement.getString("total")).isEqualTo("0.73");
      assertThat(sumOfLines(statement)).isEqualByComparingTo(statement.getString("total"));
    } finally {
      fixture.sql("delete from usage_hourly where scope = 'initech'");
    }
  }
}
