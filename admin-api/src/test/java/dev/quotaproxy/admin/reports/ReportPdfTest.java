package dev.quotaproxy.admin.reports;

import static dev.quotaproxy.admin.reports.ReportFixture.ADMIN;
import static dev.quotaproxy.admin.reports.ReportFixture.VIEWER;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.apache.pdfbox.Loader;
import org.apache.pdfbox.pdmodel.PDDocument;
import org.apache.pdfbox.pdmodel.graphics.image.PDImageXObject;
import org.apache.pdfbox.text.PDFTextStripper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The PDF report opens, says what the ledger holds, and renders (pdftoppm, where installed). */
class ReportPdfTest {
  private static final String PERIOD = "from=2026-03-10&to=2026-03-13";
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

  static byte[] pdf(String query, String token) throws Exception {
    var response = fixture.get("/api/v1/reports/pdf?" + query, token);
    assertThat(response.statusCode()).as(response.bodyAsString()).isEqualTo(200);
    assertThat(response.getHeader("Content-Type")).isEqualTo("application/pdf");
    assertThat(response.getHeader("Content-Disposition")).contains("usage-by-scope-2026-03-10-2026-03-13.pdf");
    return response.body().getBytes();
  }

  @Test
  void thePdfHoldsTheTotalsTablesAndTwoCharts() throws Exception {
    byte[] bytes = pdf(PERIOD, ADMIN);
    try (PDDocument document = Loader.loadPDF(bytes)) {
      String text = new PDFTextStripper().getText(document);
      assertThat(text).contains("quota-proxy usage report", "Period: 2026-03-10 00:00 UTC to 2026-03-13 00:00 UTC (by day)",
          "Covers: all scopes", "for ops");
      // Totals: storage peak 3500 B, ingress 4500 B, egress 3500 B, 3 pushes, 2 pulls.
      assertThat(text).contains("3.4 KiB 4.4 KiB 3.4 KiB 3 2");
      assertThat(text).contains("acme/team/svc", "globex/web", "alice", "bob", "carol");
      // The scopes table: acme's peak storage, then the most repositories and manifests it held (2 and 2), then traffic.
      assertThat(text).contains("scope storage peak repos manifests ingress egress pushes pulls", "acme 1.5 KiB 2 2 2.4 KiB 1.5 KiB 2 1",
          "globex 2.0 KiB 1 1 2.0 KiB 2.0 KiB 1 1");
      int images = 0;
      for (var page : document.getPages()) {
        for (var name : page.getResources().getXObjectNames()) {
          if (page.getResources().getXObject(name) instanceof PDImageXObject) {
            images++;
          }
        }
      }
      assertThat(images).as("storage and traffic charts").isEqualTo(2);
    }
  }

  @Test
  void aViewersPdfHoldsItsScopesOnly() throws Exception {
    try (PDDocument document = Loader.loadPDF(pdf(PERIOD, VIEWER))) {
      String text = new PDFTextStripper().getText(document);
      assertThat(text).contains("acme/app", "scopes readable by this token: acme").doesNotContain("globex");
    }
    assertThat(fixture.get("/api/v1/reports/pdf?" + PERIOD + "&scope=globex", VIEWER).statusCode()).isEqualTo(403);
  }

  @Test
  void anHourlyPdfIsForShortPeriodsOnly() throws Exception {
    var response = fixture.get("/api/v1/reports/pdf?granularity=hour&from=2026-03-01&to=2026-03-20", ADMIN);
    assertThat(response.statusCode()).isEqualTo(400);
    assertThat(response.bodyAsJsonObject().getJsonObject("error").getString("message")).contains("granularity=day");
    try (PDDocument document = Loader.loadPDF(fixture.get("/api/v1/reports/pdf?granularity=hour&" + PERIOD, ADMIN).body().getBytes())) {
      assertThat(new PDFTextStripper().getText(document)).contains("(by hour)");
    }
  }

  @Test
  void pdftoppmRendersTheFirstPage() throws Exception {
    Path pdftoppm = Tools.require("/usr/bin/pdftoppm", "poppler-utils");
    Path dir = Files.createTempDirectory("report-pdf");
    Path pdf = Files.write(dir.resolve("report.pdf"), pdf(PERIOD, ADMIN));
    Process process = new ProcessBuilder(pdftoppm.toString(), "-png", "-r", "60", "-f", "1", "-l", "1", pdf.toString(),
        dir.resolve("page").toString()).redirectErrorStream(true).start();
    String out = new String(process.getInputStream().readAllBytes());
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(process.exitValue()).as(out).isZero();
    Path page = dir.resolve("page-1.png");
    assertThat(Files.size(page)).isGreaterThan(5_000);
    Files.copy(page, Path.of("target", "report-pdf-page-1.png"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
  }
}
