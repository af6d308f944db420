package dev.quotaproxy.admin.reports;

import static dev.quotaproxy.admin.reports.ReportFixture.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The report page in headless Chromium over a ledger with known pushes and pulls: its charts render
 * with the report's figures. (scripts/e2e-report.sh does the same against the proxy jar with real pushes.)
 */
class ReportPageTest {
  static ReportFixture fixture;

  @BeforeAll
  static void start() throws Exception {
    fixture = new ReportFixture();
    ReportApiTest.feed(fixture);
  }

  @AfterAll
  static void stop() throws Exception {
    fixture.close();
  }

  @Test
  void thePageAndItsScriptsAreServedWithoutATokenUnderAStrictPolicy() throws Exception {
    var page = fixture.get("/reports", null);
    assertThat(page.statusCode()).isEqualTo(200);
    assertThat(page.getHeader("Content-Type")).startsWith("text/html");
    assertThat(page.getHeader("Content-Security-Policy")).contains("script-src 'self'");
    assertThat(page.bodyAsString()).contains("/reports/echarts.min.js", "id=\"storage-chart\"");
    var echarts = fixture.get("/reports/echarts.min.js", null);
    assertThat(echarts.statusCode()).isEqualTo(200);
    assertThat(echarts.bodyAsString()).contains("echarts");
    assertThat(fixture.get("/reports/report.js", null).statusCode()).isEqualTo(200);
  }

  @Test
  void headlessChromiumDrawsTheChartsWithTheReportsFigures() throws Exception {
    Path chromium = Tools.require("/usr/bin/chromium", "chromium");
    String url = "http://127.0.0.1:" + fixture.server.actualPort() + "/reports#token=" + ADMIN
        + "&period=custom&from=2026-03-10&to=2026-03-13";
    Path screenshot = Path.of("target", "report-page-test.png").toAbsolutePath();
    Files.deleteIfExists(screenshot);
    String dom = chromium(chromium, "--dump-dom", url);
    chromium(chromium, "--screenshot=" + screenshot, url);

    assertThat(attribute(dom, "body", "data-state")).isEqualTo("rendered");
    JsonObject totals = new JsonObject(attribute(dom, "summary", "data-totals"));
    assertThat(totals.getLong("ingress_bytes")).isEqualTo(4500);
    assertThat(totals.getLong("egress_bytes")).isEqualTo(3500);
    JsonObject storage = new JsonObject(attribute(dom, "storage-chart", "data-rendered"));
    assertThat(storage.getJsonArray("keys")).containsExactly("acme", "globex");
    assertThat(storage.getLong("peak_bytes")).isEqualTo(3500);
    JsonObject top = new JsonObject(attribute(dom, "top-chart", "data-rendered"));
    assertThat(top.getString("first")).isEqualTo("globex");
    assertThat(top.getJsonObject("values").getLong("acme")).isEqualTo(1500);
    JsonObject traffic = new JsonObject(attribute(dom, "traffic-chart", "data-rendered"));
    assertThat(traffic.getLong("ingress_bytes")).isEqualTo(4500);
    assertThat(traffic.getLong("egress_bytes")).isEqualTo(3500);
    // acme/app and acme/team/svc, and globex/web: a repository and a manifest each.
    JsonObject counts = new JsonObject(attribute(dom, "counts-chart", "data-rendered"));
    assertThat(counts.getLong("repositories_end")).isEqualTo(3);
    assertThat(counts.getLong("manifests_end")).isEqualTo(3);
    assertThat(dom).contains("<canvas");
    assertThat(Files.size(screenshot)).isGreaterThan(10_000);
  }

  /**
   * dept holds 160 bytes for a moment on 03-10, then 100 after dept/tmp's delete: its line peaks at 160 and ends at
   * 100, dept/tmp's at 0.
   */
  @Test
  void theStorageLineStepsDownToWhatADeleteLeft() throws Exception {
    Path chromium = Tools.require("/usr/bin/chromium", "chromium");
    try (ReportFixture other = new ReportFixture()) {
      other.push("2026-03-10T10:00:00Z", "dept/app", "alice", List.of("dept", "dept/app"), java.util.Map.of("sha256:a", 100L));
      other.push("2026-03-10T10:10:00Z", "dept/tmp", "alice", List.of("dept", "dept/tmp"), java.util.Map.of("sha256:t", 60L));
      other.deleteAll("2026-03-10T10:40:00Z", "dept/tmp", "2026-03-10T10:10:00Z", List.of("dept", "dept/tmp"),
          java.util.Map.of("sha256:t", 60L));
      String dom = chromium(chromium, "--dump-dom", "http://127.0.0.1:" + other.server.actualPort() + "/reports#token=" + ADMIN
          + "&period=custom&from=2026-03-10&to=2026-03-13");

      assertThat(attribute(dom, "body", "data-state")).isEqualTo("rendered");
      JsonObject storage = new JsonObject(attribute(dom, "storage-chart", "data-rendered"));
      // A single outermost scope is drawn with the scopes right under it.
      assertThat(storage.getJsonArray("keys")).containsExactly("dept", "dept/app", "dept/tmp");
      assertThat(storage.getLong("peak_bytes")).isEqualTo(160 + 100 + 60);
      assertThat(storage.getLong("end_bytes")).as("the lines go on at what the delete left").isEqualTo(100 + 100 + 0);
      JsonObject counts = new JsonObject(attribute(dom, "counts-chart", "data-rendered"));
      assertThat(counts.getLong("repositories_peak")).isEqualTo(2);
      assertThat(counts.getLong("repositories_end")).as("dept/tmp emptied").isEqualTo(1);
      assertThat(counts.getLong("manifests_peak")).isEqualTo(2);
      assertThat(counts.getLong("manifests_end")).isEqualTo(1);
    }
  }

  @Test
  void aWrongTokenShowsTheApisMessage() throws Exception {
    Path chromium = Tools.require("/usr/bin/chromium", "chromium");
    String dom = chromium(chromium, "--dump-dom",
        "http://127.0.0.1:" + fixture.server.actualPort() + "/reports#token=wrong-token-0123456789");
    assertThat(attribute(dom, "body", "data-state")).isEqualTo("error");
    assertThat(dom).contains("the bearer token is not valid");
  }

  /** Runs headless Chromium on a fresh profile; gives what it printed. */
  static String chromium(Path chromium, String action, String url) throws Exception {
    Path profile = Files.createTempDirectory("report-page-chromium");
    List<String> command = new ArrayList<>(List.of(chromium.toString(), "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--user-data-dir=" + profile, "--window-size=1400,1000", "--virtual-time-budget=10000", action, url));
    Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    byte[] out = process.getInputStream().readAllBytes();
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("chromium finished").isTrue();
    return new String(out, java.nio.charset.StandardCharsets.UTF_8);
  }

  /** An attribute of the element with this id (or the body), unescaped. */
  static String attribute(String dom, String id, String name) {
    Pattern element = Pattern.compile(id.equals("body") ? "<body[^>]*>" : "<[a-z]+[^>]*\\bid=\"" + Pattern.quote(id) + "\"[^>]*>");
    Matcher tag = element.matcher(dom);
    assertThat(tag.find()).as("element " + id + " in the DOM").isTrue();
    Matcher value = Pattern.compile("\\b" + Pattern.quote(name) + "=\"([^\"]*)\"").matcher(tag.group());
    assertThat(value.find()).as(name + " on " + id + ": " + tag.group()).isTrue();
    return value.group(1).replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&");
  }
}
