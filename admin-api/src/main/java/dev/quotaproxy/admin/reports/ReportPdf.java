package dev.quotaproxy.admin.reports;

import dev.quotaproxy.config.ByteSize;
import dev.quotaproxy.admin.reports.PdfReportModel.KeyFigures;
import dev.quotaproxy.ledger.chargeback.Item;
import dev.quotaproxy.ledger.chargeback.Money;
import dev.quotaproxy.ledger.chargeback.Statement;
import dev.quotaproxy.ledger.reports.Granularity;
import java.time.Duration;
import java.util.TreeMap;
import dev.quotaproxy.ledger.reports.Period;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TimeZone;
import org.apache.pdfbox.pdmodel.PDDocument;
import org.apache.pdfbox.pdmodel.PDDocumentInformation;
import org.apache.pdfbox.pdmodel.PDPage;
import org.apache.pdfbox.pdmodel.PDPageContentStream;
import org.apache.pdfbox.pdmodel.common.PDRectangle;
import org.apache.pdfbox.pdmodel.font.PDType1Font;
import org.apache.pdfbox.pdmodel.font.Standard14Fonts;
import org.apache.pdfbox.pdmodel.graphics.image.LosslessFactory;
import org.apache.pdfbox.pdmodel.graphics.image.PDImageXObject;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.DateAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.ClusteredXYBarRenderer;
import org.jfree.chart.renderer.xy.XYStepRenderer;
import org.jfree.chart.renderer.xy.StandardXYBarPainter;
import org.jfree.data.time.Day;
import org.jfree.data.time.FixedMillisecond;
import org.jfree.data.time.Hour;
import org.jfree.data.time.RegularTimePeriod;
import org.jfree.data.time.TimeSeries;
import org.jfree.data.time.TimeSeriesCollection;

/**
 * The usage report as a PDF: totals, storage over time of the outermost scopes, ingress and egress per
 * bucket, then the top scopes and users; and the chargeback statement as a PDF: its prices, totals and
 * lines. Blocking (PDFBox, JFreeChart on headless AWT): run it off the event loop. Built from a
 * {@link PdfReportModel}, whose size is bounded, or a {@link Statement}.
 *
 * <p>Over 350 lines: both documents share the page writer below (text, tables, paging), which is most
 * of the file; split it out if a third document comes.
 */
final class ReportPdf {
  static {
    // Charts are drawn into images: AWT without a display.
    System.setProperty("java.awt.headless", "true");
  }

  private static final float MARGIN = 40;
  private static final float WIDTH = PDRectangle.A4.getWidth() - 2 * MARGIN;
  private static final DateTimeFormatter WHEN = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'").withZone(ZoneOffset.UTC);
  private static final int TOP_SCOPES = 40;
  private static final int TOP_USERS = 20;
  private static final TimeZone UTC = TimeZone.getTimeZone("UTC");

  private final PDType1Font regular = new PDType1Font(Standard14Fonts.FontName.HELVETICA);
  private final PDType1Font bold = new PDType1Font(Standard14Fonts.FontName.HELVETICA_BOLD);
  private PDDocument document;
  private PDPageContentStream page;
  private float y;

  /** What the report covers, in words: "all scopes", "scope acme", "group uni (acme, globex)". */
  record Heading(Period period, String coverage, String requestedBy, Instant generatedAt) {}

  static byte[] write(Heading heading, PdfReportModel model) throws IOException {
    return new ReportPdf().render(heading, model);
  }

  static byte[] statement(Statement statement, String requestedBy, Instant generatedAt) throws IOException {
    return new ReportPdf().renderStatement(statement, requestedBy, generatedAt);
  }

  private byte[] renderStatement(Statement statement, String requestedBy, Instant generatedAt) throws IOException {
    try (PDDocument doc = new PDDocument()) {
      document = doc;
      doc.getDocumentInformation().setTitle("quota-proxy chargeback statement " + statement.month());
      doc.getDocumentInformation().setCreator("quota-proxy");
      newPage();
      text(bold, 18, MARGIN, "quota-proxy chargeback statement " + statement.month());
      y -= 22;
      text(regular, 10, MARGIN, "By " + statement.by().label() + ", " + WHEN.format(statement.from()) + " to "
          + WHEN.format(statement.to()) + (statement.complete() ? "" : " (month under way)") + ", in " + statement.currency());
      y -= 14;
      text(regular, 10, MARGIN, "Generated " + WHEN.format(generatedAt) + " for " + requestedBy);
      y -= 26;
      heading("Prices");
      List<List<String>> prices = new ArrayList<>();
      statement.prices().forEach(version -> prices.add(List.of("from " + version.effectiveFrom(),
          Money.text(version.price(Item.STORAGE)), Money.text(version.price(Item.EGRESS)), Money.text(version.price(Item.INGRESS)),
          Money.text(version.price(Item.PULLS)))));
      table(List.of("version", "GiB-month", "GiB egress", "GiB ingress", "1000 pulls"), new float[] {2, 1, 1, 1, 1}, prices);
      heading("Totals");
      List<List<String>> totals = new ArrayList<>();
      statement.totals().forEach((key, amount) -> totals.add(List.of(key, amount.toPlainString())));
      totals.add(List.of("total", statement.total().toPlainString()));
      table(List.of(statement.by().label(), "amount"), new float[] {4, 1}, totals);
      heading("Lines");
      List<List<String>> lines = new ArrayList<>();
      for (Statement.Line line : statement.lines()) {
        lines.add(List.of(line.key(), line.item().label(), day(line.from()) + " to " + day(line.to()), line.quantity().toPlainString(),
            line.item().unit, Money.text(line.unitPrice()), line.amount().toPlainString(), ReportFormat.splitText(line.split())));
      }
      table(List.of(statement.by().label(), "item", "period", "quantity", "unit", "unit price", "amount", "split"),
          new float[] {1.6f, 0.9f, 2.7f, 1.1f, 1.1f, 1, 0.9f, 1.2f}, lines);
      text(regular, 8, MARGIN, "Each amount is its exact quantity times its unit price, rounded half-even to the cent; totals add"
          + " the amounts.");
      y -= 10;
      text(regular, 8, MARGIN, "A GiB-month is byte-hours / 2^30 / the month's hours. A price change inside the month cuts a line in two.");
      page.close();
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      doc.save(out);
      return out.toByteArray();
    }
  }

  private byte[] render(Heading heading, PdfReportModel model) throws IOException {
    try (PDDocument doc = new PDDocument()) {
      document = doc;
      PDDocumentInformation info = doc.getDocumentInformation();
      info.setTitle("quota-proxy usage report " + day(heading.period().from()) + " to " + day(heading.period().to()));
      info.setCreator("quota-proxy");
      newPage();
      text(bold, 18, MARGIN, "quota-proxy usage report");
      y -= 22;
      text(regular, 10, MARGIN, "Period: " + WHEN.format(heading.period().from()) + " to " + WHEN.format(heading.period().to())
          + " (by " + heading.period().granularity().label() + ")");
      y -= 14;
      text(regular, 10, MARGIN, "Covers: " + heading.coverage());
      y -= 14;
      text(regular, 10, MARGIN, "Generated " + WHEN.format(heading.generatedAt()) + " for " + heading.requestedBy());
      y -= 26;

      heading("Totals");
      var totals = model.totals;
      table(List.of("storage peak", "ingress", "egress", "pushes", "pulls"), new float[] {1, 1, 1, 1, 1},
          List.of(List.of(ByteSize.format(totals.storagePeak()), ByteSize.format(totals.ingress()), ByteSize.format(totals.egress()),
              Long.toString(totals.pushes()), Long.toString(totals.pulls()))));
      text(regular, 8, MARGIN, "Each byte counted once: scopes under another scope of the report are in it already."
          + " Storage peak: the sum of the outermost scopes' highest storage.");
      y -= 20;

      heading("Storage over time");
      chart(storageChart(heading.period(), model), 230);
      heading("Ingress and egress per " + heading.period().granularity().label());
      chart(trafficChart(heading.period(), model), 200);

      heading(
          "Scopes by peak storage" + (model.scopes.size() > TOP_SCOPES ? " (top " + TOP_SCOPES + " of " + model.scopes.size() + ")" : ""));
      table(List.of("scope", "storage peak", "repos", "manifests", "ingress", "egress", "pushes", "pulls"),
          new float[] {2.6f, 1.2f, 0.7f, 0.9f, 1.1f, 1.1f, 0.7f, 0.7f}, rows(model.topScopes(TOP_SCOPES), true));
      room(20);
      text(regular, 8, MARGIN, "Repos and manifests: the most the scope held in the period (repositories holding anything).");
      y -= 12;
      heading("Users by traffic" + (model.users.size() > TOP_USERS ? " (top " + TOP_USERS + " of " + model.users.size() + ")" : ""));
      table(List.of("user", "ingress", "egress", "pushes", "pulls"), new float[] {3, 1.3f, 1.3f, 0.8f, 0.8f},
          rows(model.topUsers(TOP_USERS), false));
      page.close();
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      doc.save(out);
      return out.toByteArray();
    }
  }

  private static List<List<String>> rows(List<KeyFigures> figures, boolean storage) {
    List<List<String>> rows = new ArrayList<>();
    for (KeyFigures f : figures) {
      List<String> row = new ArrayList<>(List.of(f.key));
      if (storage) {
        row.addAll(List.of(ByteSize.format(f.peak), Long.toString(f.repositoriesPeak), Long.toString(f.manifestsPeak)));
      }
      row.addAll(List.of(ByteSize.format(f.ingress), ByteSize.format(f.egress), Long.toString(f.pushes), Long.toString(f.pulls)));
      rows.add(row);
    }
    if (rows.isEmpty()) {
      List<String> none = new ArrayList<>(List.of("(none in this period)"));
      while (none.size() < (storage ? 8 : 5)) {
        none.add("");
      }
      rows.add(none);
    }
    return rows;
  }

  // ---- Charts ---------------------------------------------------------------------------------

  private static JFreeChart storageChart(Period period, PdfReportModel model) {
    TimeSeriesCollection series = new TimeSeriesCollection(TimeZone.getTimeZone("UTC"));
    for (String key : model.chartedScopes()) {
      TimeSeries line = new TimeSeries(key);
      TreeMap<Instant, long[]> buckets = model.storage.get(key);
      Long last = null;
      for (Map.Entry<Instant, long[]> point : buckets.entrySet()) {
        line.addOrUpdate(new FixedMillisecond(Date.from(point.getKey())), point.getValue()[0]);
        // A bucket that left less than its high (a delete) steps down at its end, unless the next row starts there.
        Instant end = point.getKey().plus(period.granularity() == Granularity.HOUR ? Duration.ofHours(1) : Duration.ofDays(1));
        Instant next = buckets.higherKey(point.getKey());
        if (point.getValue()[1] != point.getValue()[0] && (next == null || next.isAfter(end))) {
          line.addOrUpdate(new FixedMillisecond(Date.from(end)), point.getValue()[1]);
        }
        last = point.getValue()[1];
      }
      // Storage holds until it changes: the line goes on to the end of the period, at the level last left.
      line.addOrUpdate(new FixedMillisecond(Date.from(period.to())), last);
      series.addSeries(line);
    }
    JFreeChart chart = ChartFactory.createTimeSeriesChart(null, null, "bytes", series, true, false, false);
    XYPlot plot = chart.getXYPlot();
    XYStepRenderer step = new XYStepRenderer();
    for (int i = 0; i < series.getSeriesCount(); i++) {
      step.setSeriesStroke(i, new BasicStroke(2f));
    }
    plot.setRenderer(step);
    DateAxis time = (DateAxis) plot.getDomainAxis();
    time.setTimeZone(TimeZone.getTimeZone("UTC"));
    time.setRange(Date.from(period.from()), Date.from(period.to()));
    style(plot);
    return chart;
  }

  private static JFreeChart trafficChart(Period period, PdfReportModel model) {
    TimeSeries ingress = new TimeSeries("ingress");
    TimeSeries egress = new TimeSeries("egress");
    model.traffic.forEach((bucket, sums) -> {
      // A bar as wide as its bucket.
      RegularTimePeriod time = period.granularity() == Granularity.HOUR
          ? new Hour(Date.from(bucket), UTC, Locale.ROOT)
          : new Day(Date.from(bucket), UTC, Locale.ROOT);
      ingress.addOrUpdate(time, sums[0]);
      egress.addOrUpdate(time, sums[1]);
    });
    TimeSeriesCollection series = new TimeSeriesCollection(TimeZone.getTimeZone("UTC"));
    series.addSeries(ingress);
    series.addSeries(egress);
    JFreeChart chart = ChartFactory.createXYBarChart(null, null, true, "bytes", series);
    XYPlot plot = chart.getXYPlot();
    ClusteredXYBarRenderer bars = new ClusteredXYBarRenderer(0.1, false);
    plot.setRenderer(bars);
    bars.setBarPainter(new StandardXYBarPainter());
    bars.setShadowVisible(false);
    bars.setSeriesPaint(0, new Color(0x2e9e6b));
    bars.setSeriesPaint(1, new Color(0xd8843d));
    DateAxis time = (DateAxis) plot.getDomainAxis();
    time.setTimeZone(UTC);
    time.setRange(Date.from(period.from()), Date.from(period.to()));
    style(plot);
    return chart;
  }

  private static void style(XYPlot plot) {
    plot.setBackgroundPaint(Color.WHITE);
    plot.setRangeGridlinePaint(new Color(0xdddddd));
    plot.setDomainGridlinePaint(new Color(0xeeeeee));
    NumberAxis bytes = (NumberAxis) plot.getRangeAxis();
    bytes.setAutoRangeIncludesZero(true);
    bytes.setNumberFormatOverride(new java.text.NumberFormat() {
      private static final long serialVersionUID = 1L;

      @Override
      public StringBuffer format(double number, StringBuffer to, java.text.FieldPosition position) {
        return to.append(ByteSize.format(Math.round(number)));
      }

      @Override
      public StringBuffer format(long number, StringBuffer to, java.text.FieldPosition position) {
        return to.append(ByteSize.format(number));
      }

      @Override
      public Number parse(String source, java.text.ParsePosition position) {
        return null;
      }
    });
  }

  /** The chart as an image twice the size it is shown at, so it stays sharp when printed. */
  private void chart(JFreeChart chart, float height) throws IOException {
    room(height + 10);
    BufferedImage image = chart.createBufferedImage(Math.round(WIDTH * 2), Math.round(height * 2));
    PDImageXObject drawn = LosslessFactory.createFromImage(document, image);
    y -= height;
    page.drawImage(drawn, MARGIN, y, WIDTH, height);
    y -= 16;
  }

  // ---- Text and tables ------------------------------------------------------------------------

  private void heading(String title) throws IOException {
    room(60);
    text(bold, 12, MARGIN, title);
    y -= 16;
  }

  private void table(List<String> header, float[] weights, List<List<String>> rows) throws IOException {
    float total = 0;
    for (float weight : weights) {
      total += weight;
    }
    float[] widths = new float[weights.length];
    for (int i = 0; i < weights.length; i++) {
      widths[i] = WIDTH * weights[i] / total;
    }
    row(bold, header, widths);
    for (List<String> row : rows) {
      if (room(14)) {
        row(bold, header, widths);
      }
      row(regular, row, widths);
    }
    y -= 10;
  }

  /** A row: the first column left-aligned, the figures right-aligned. */
  private void row(PDType1Font font, List<String> cells, float[] widths) throws IOException {
    float x = MARGIN;
    for (int i = 0; i < cells.size(); i++) {
      String cell = fit(font, 9, cells.get(i), widths[i] - 6);
      float cellX = i == 0 ? x : x + widths[i] - 4 - font.getStringWidth(cell) / 1000 * 9;
      text(font, 9, cellX, cell);
      x += widths[i];
    }
    y -= 3;
    page.setStrokingColor(0.85f, 0.85f, 0.85f);
    page.moveTo(MARGIN, y);
    page.lineTo(MARGIN + WIDTH, y);
    page.stroke();
    y -= 11;
  }

  private void text(PDType1Font font, float size, float x, String text) throws IOException {
    page.beginText();
    page.setFont(font, size);
    page.newLineAtOffset(x, y);
    page.showText(printable(font, text));
    page.endText();
  }

  /** A new page when fewer than {@code needed} points are left; true if it made one. */
  private boolean room(float needed) throws IOException {
    if (y - needed >= MARGIN) {
      return false;
    }
    page.close();
    newPage();
    return true;
  }

  private void newPage() throws IOException {
    PDPage next = new PDPage(PDRectangle.A4);
    document.addPage(next);
    page = new PDPageContentStream(document, next);
    y = PDRectangle.A4.getHeight() - MARGIN;
  }

  /** The standard fonts encode WinAnsi only: a user name in another script prints its characters as '?'. */
  private static String printable(PDType1Font font, String text) {
    StringBuilder out = new StringBuilder();
    text.codePoints().forEach(c -> {
      String character = new String(Character.toChars(c));
      try {
        font.encode(character);
        out.append(character);
      } catch (IllegalArgumentException | IOException e) {
        out.append('?');
      }
    });
    return out.toString();
  }

  /** The text, cut with an ellipsis to fit {@code width} points. */
  private static String fit(PDType1Font font, float size, String text, float width) throws IOException {
    String printable = printable(font, text);
    if (font.getStringWidth(printable) / 1000 * size <= width) {
      return printable;
    }
    String cut = printable;
    while (!cut.isEmpty() && font.getStringWidth(cut + "...") / 1000 * size > width) {
      cut = cut.substring(0, cut.length() - 1);
    }
    return cut + "...";
  }

  private static String day(Instant at) {
    return at.toString().substring(0, 10);
  }

}
