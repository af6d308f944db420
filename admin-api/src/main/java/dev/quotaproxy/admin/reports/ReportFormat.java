package dev.quotaproxy.admin.reports;

import dev.quotaproxy.ledger.reports.By;
import dev.quotaproxy.ledger.reports.ReportQuery;
import dev.quotaproxy.ledger.reports.ReportRow;
import dev.quotaproxy.ledger.reports.ReportTotals;
import dev.quotaproxy.ledger.reports.Shares;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;

/**
 * How a streamed report is written: what comes before the rows, each row, and what comes after. JSON
 * is one document whose rows array is written as the rows come, the totals after it; CSV is a header
 * row and one record per row (totals are left to the reader: a CSV is one table). Pure.
 */
enum ReportFormat {
  JSON("application/json") {
    @Override
    String head(ReportQuery query) {
      JsonObject head = new JsonObject().put("by", query.by().label()).put("granularity", query.period().granularity().label())
          .put("from", query.period().from().toString()).put("to", query.period().to().toString());
      query.scopes().ifPresent(scopes -> head.put("scopes", new JsonArray(scopes.roots())));
      if (query.by() == By.GROUP) {
        JsonObject groups = new JsonObject();
        query.groups().forEach((name, roots) -> groups.put(name, new JsonArray(roots.roots())));
        head.put("groups", groups);
        if (!query.shares().isEmpty()) {
          JsonObject shares = new JsonObject();
          query.shares().forEach((name, parts) -> shares.put(name, percents(parts)));
          head.put("shares", shares);
        }
      }
      String encoded = head.encode();
      // The object stays open: the rows follow, then the totals close it.
      return encoded.substring(0, encoded.length() - 1) + ",\"rows\":[";
    }

    @Override
    String row(By by, ReportRow row, boolean first) {
      JsonObject json = new JsonObject().put("bucket", row.bucket().toString()).put("key", row.key());
      if (by.hasStorage()) {
        json.put("storage_bytes", row.storage()).put("repositories", row.repositories()).put("manifests", row.manifests());
      }
      json.put("ingress_bytes", row.ingress()).put("egress_bytes", row.egress()).put("pushes", row.pushes()).put("pulls", row.pulls());
      if (by.hasStorage()) {
        // Where the bucket left each figure: what the buckets up to the key's next row hold.
        json.put("storage_end_bytes", row.storageEnd()).put("repositories_end", row.repositoriesEnd())
            .put("manifests_end", row.manifestsEnd());
      }
      if (!row.split().isEmpty()) {
        json.put("split", percents(row.split()));
      }
      return (first ? "" : ",") + json.encode();
    }

    @Override
    String tail(By by, ReportTotals totals) {
      JsonObject json = new JsonObject();
      if (by.hasStorage()) {
        json.put("storage_peak_bytes", totals.storagePeak());
      }
      json.put("ingress_bytes", totals.ingress()).put("egress_bytes", totals.egress()).put("pushes", totals.pushes())
          .put("pulls", totals.pulls()).put("rows", totals.rows()).put("keys", totals.keys());
      return "],\"totals\":" + json.encode() + "}";
    }
  },

  CSV("text/csv; charset=utf-8; header=present") {
    @Override
    String head(ReportQuery query) {
      List<String> names = new ArrayList<>(List.of("bucket", query.by().label()));
      if (query.by().hasStorage()) {
        names.addAll(List.of("storage_bytes", "repositories", "manifests"));
      }
      names.addAll(List.of("ingress_bytes", "egress_bytes", "pushes", "pulls"));
      if (query.by() == By.GROUP) {
        names.add("split");
      }
      // Last, so that the columns readers took before stay where they were.
      if (query.by().hasStorage()) {
        names.addAll(List.of("storage_end_bytes", "repositories_end", "manifests_end"));
      }
      return Csv.line(names);
    }

    @Override
    String row(By by, ReportRow row, boolean first) {
      List<String> fields = new ArrayList<>(List.of(row.bucket().toString(), row.key()));
      if (by.hasStorage()) {
        fields.addAll(List.of(Long.toString(row.storage()), Long.toString(row.repositories()), Long.toString(row.manifests())));
      }
      fields.addAll(List.of(Long.toString(row.ingress()), Long.toString(row.egress()), Long.toString(row.pushes()),
          Long.toString(row.pulls())));
      if (by == By.GROUP) {
        fields.add(splitText(row.split()));
      }
      if (by.hasStorage()) {
        fields.addAll(List.of(Long.toString(row.storageEnd()), Long.toString(row.repositoriesEnd()), Long.toString(row.manifestsEnd())));
      }
      return Csv.line(fields);
    }

    @Override
    String tail(By by, ReportTotals totals) {
      return "";
    }
  };

  final String contentType;

  /** Shares as JSON numbers: {@code {"acme": 60}}. */
  static JsonObject percents(java.util.Map<String, java.math.BigDecimal> shares) {
    JsonObject json = new JsonObject();
    shares.forEach((scope, share) -> json.put(scope, Shares.normal(share)));
    return json;
  }

  /** Shares as one CSV field: {@code acme 60%; globex 50%}, empty when none. */
  static String splitText(java.util.Map<String, java.math.BigDecimal> shares) {
    List<String> parts = new ArrayList<>();
    shares.forEach((scope, share) -> parts.add(scope + " " + Shares.text(share) + "%"));
    return String.join("; ", parts);
  }

  ReportFormat(String contentType) {
    this.contentType = contentType;
  }

  abstract String head(ReportQuery query);

  abstract String row(By by, ReportRow row, boolean first);

  abstract String tail(By by, ReportTotals totals);

  /** {@code format=} wins; otherwise CSV when the client accepts text/csv and not JSON first. */
  static ReportFormat negotiate(String format, String accept) {
    if (format != null) {
      return "csv".equals(format) ? CSV : JSON;
    }
    if (accept != null) {
      for (String range : accept.split(",")) {
        String type = range.split(";")[0].trim().toLowerCase(java.util.Locale.ROOT);
        if (type.equals("text/csv")) {
          return CSV;
        }
        if (type.equals("application/json")) {
          return JSON;
        }
      }
    }
    return JSON;
  }
}
