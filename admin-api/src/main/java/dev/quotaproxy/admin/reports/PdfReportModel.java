package dev.quotaproxy.admin.reports;

import dev.quotaproxy.oci.Scopes;
import dev.quotaproxy.ledger.reports.ReportRow;
import dev.quotaproxy.ledger.reports.ReportSink;
import dev.quotaproxy.ledger.reports.ReportTotals;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What the PDF shows, gathered from a report by scope (and one by user) as it streams: per key its
 * peak storage, counts and traffic, and over time only the storage of the outermost scopes (those under no
 * other scope of the report) and their traffic per bucket. Its size is bounded by the scopes and
 * buckets there are, never by rows: a key keeps a few numbers, a series one per bucket, and at most
 * {@value #MAX_SERIES} series are kept. Pure.
 */
final class PdfReportModel {
  static final int MAX_SERIES = 8;
  /** Series kept while streaming, before the biggest {@value #MAX_SERIES} are chosen. */
  private static final int MAX_TRACKED = 200;

  /** A key's figures over the period. */
  static final class KeyFigures {
    final String key;
    final boolean outermost;
    long peak;
    long repositoriesPeak;
    long manifestsPeak;
    long ingress;
    long egress;
    long pushes;
    long pulls;

    KeyFigures(String key, boolean outermost) {
      this.key = key;
      this.outermost = outermost;
    }

    void add(ReportRow row) {
      peak = Math.max(peak, row.storage());
      repositoriesPeak = Math.max(repositoriesPeak, row.repositories());
      manifestsPeak = Math.max(manifestsPeak, row.manifests());
      ingress += row.ingress();
      egress += row.egress();
      pushes += row.pushes();
      pulls += row.pulls();
    }
  }

  final Map<String, KeyFigures> scopes = new LinkedHashMap<>();
  final Map<String, KeyFigures> users = new LinkedHashMap<>();
  /** Storage per bucket of the outermost scopes. */
  /** Per outermost scope, each bucket's storage: its high water there, and where it left it. */
  final Map<String, TreeMap<Instant, long[]>> storage = new LinkedHashMap<>();
  /** Ingress and egress per bucket, over the outermost scopes. */
  final TreeMap<Instant, long[]> traffic = new TreeMap<>();
  ReportTotals totals;
  ReportTotals userTotals;

  /** Rows of the report by scope. */
  ReportSink scopeSink() {
    return new Unbounded() {
      @Override
      public void row(ReportRow row) {
        KeyFigures figures = scopes.computeIfAbsent(row.key(), key -> new KeyFigures(key, outermost(key)));
        figures.add(row);
        if (figures.outermost) {
          if (storage.containsKey(row.key()) || storage.size() < MAX_TRACKED) {
            storage.computeIfAbsent(row.key(), key -> new TreeMap<>()).put(row.bucket(), new long[] {row.storage(), row.storageEnd()});
          }
          long[] sums = traffic.computeIfAbsent(row.bucket(), bucket -> new long[2]);
          sums[0] += row.ingress();
          sums[1] += row.egress();
        }
      }
    };
  }

  /** Rows of the report by user. */
  ReportSink userSink() {
    return new Unbounded() {
      @Override
      public void row(ReportRow row) {
        users.computeIfAbsent(row.key(), key -> new KeyFigures(key, true)).add(row);
      }
    };
  }

  /** Keys arrive sorted, a scope after its ancestors. */
  private boolean outermost(String key) {
    List<String> path = Scopes.of(key);
    for (String ancestor : path.subList(0, path.size() - 1)) {
      if (scopes.containsKey(ancestor)) {
        return false;
      }
    }
    return true;
  }

  /** The outermost scopes with the highest peaks, for the storage chart. */
  List<String> chartedScopes() {
    return storage.keySet().stream().sorted(Comparator.comparingLong((String key) -> -scopes.get(key).peak).thenComparing(key -> key))
        .limit(MAX_SERIES).toList();
  }

  /** The {@code limit} scopes with the highest peak storage (then traffic), every level. */
  List<KeyFigures> topScopes(int limit) {
    return top(scopes.values(), limit, Comparator.comparingLong((KeyFigures f) -> -f.peak).thenComparingLong(f -> -(f.ingress + f.egress)));
  }

  List<KeyFigures> topUsers(int limit) {
    return top(users.values(), limit, Comparator.comparingLong((KeyFigures f) -> -(f.ingress + f.egress)));
  }

  private static List<KeyFigures> top(java.util.Collection<KeyFigures> all, int limit, Comparator<KeyFigures> order) {
    List<KeyFigures> sorted = new ArrayList<>(all);
    sorted.sort(order.thenComparing(f -> f.key));
    return sorted.subList(0, Math.min(limit, sorted.size()));
  }

  /** Takes every row at once: the model is the bound (see the class comment). */
  private abstract static class Unbounded implements ReportSink {
    @Override
    public boolean full() {
      return false;
    }

    @Override
    public void whenDrained(Runnable resume) {
      resume.run();
    }
  }
}
