package dev.quotaproxy.admin.reports;

import dev.quotaproxy.ledger.chargeback.Money;
import dev.quotaproxy.ledger.chargeback.Statement;
import dev.quotaproxy.ledger.chargeback.Statement.Line;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;

/**
 * A chargeback statement as JSON (the lines, the totals per key and the total) or CSV (one record per
 * line; the total is the sum of the amount column). Money, prices and quantities are decimal strings,
 * exact as computed, so no reader rounds them through a float. Pure.
 */
final class StatementFormat {
  private StatementFormat() {}

  static final List<String> CSV_HEADER = List.of("item", "from", "to", "quantity", "unit", "unit_price", "currency", "amount",
      "measured", "measured_unit", "split");

  static JsonObject json(Statement statement) {
    JsonArray prices = new JsonArray();
    statement.prices().forEach(version -> prices.add(version.toJson()));
    JsonArray lines = new JsonArray();
    for (Line line : statement.lines()) {
      JsonObject json = new JsonObject().put("key", line.key()).put("item", line.item().label())
          .put("from", line.from().toString()).put("to", line.to().toString())
          .put("quantity", line.quantity().toPlainString()).put("unit", line.item().unit)
          .put("unit_price", Money.text(line.unitPrice())).put("amount", line.amount().toPlainString())
          .put("measured", Money.text(line.measured())).put("measured_unit", line.item().measuredIn);
      if (!line.split().isEmpty()) {
        json.put("split", ReportFormat.percents(line.split()));
      }
      lines.add(json);
    }
    JsonObject totals = new JsonObject();
    statement.totals().forEach((key, amount) -> totals.put(key, amount.toPlainString()));
    return new JsonObject().put("month", statement.month().toString()).put("by", statement.by().label())
        .put("from", statement.from().toString()).put("to", statement.to().toString()).put("complete", statement.complete())
        .put("hours", statement.hours()).put("currency", statement.currency()).put("prices", prices).put("lines", lines)
        .put("totals", totals).put("total", statement.total().toPlainString());
  }

  static String csv(Statement statement) {
    List<String> header = new ArrayList<>();
    header.add(statement.by().label());
    header.addAll(CSV_HEADER);
    StringBuilder csv = new StringBuilder(Csv.line(header));
    for (Line line : statement.lines()) {
      csv.append(Csv.line(List.of(line.key(), line.item().label(), line.from().toString(), line.to().toString(),
          line.quantity().toPlainString(), line.item().unit, Money.text(line.unitPrice()), statement.currency(),
          line.amount().toPlainString(), Money.text(line.measured()), line.item().measuredIn, ReportFormat.splitText(line.split()))));
    }
    return csv.toString();
  }

  static String fileName(Statement statement, String extension) {
    return "chargeback-by-" + statement.by().label() + "-" + statement.month() + "." + extension;
  }

}
