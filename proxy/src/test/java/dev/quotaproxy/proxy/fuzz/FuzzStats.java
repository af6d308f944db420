package dev.quotaproxy.proxy.fuzz;

import dev.quotaproxy.proxy.fuzz.StorageChanges.Change;
import dev.quotaproxy.proxy.support.RawHttp;
import io.vertx.core.json.JsonObject;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * What a fuzzing run tried and what came back, for the report: operations, mutation kinds and
 * shapes (an operation with its set of mutation kinds), answers, the proxy's refusals by reason, the
 * registry's own errors by code, and the storage changes seen, by kind and by the operation that made
 * them.
 */
public final class FuzzStats {
  private final Map<String, Long> operations = new TreeMap<>();
  private final Map<String, Long> mutations = new TreeMap<>();
  private final Map<String, Long> shapes = new TreeMap<>();
  private final Map<String, Long> answers = new TreeMap<>();
  private final Map<String, Long> refusals = new TreeMap<>();
  private final Map<String, Long> registryErrors = new TreeMap<>();
  private final Map<String, Long> changes = new TreeMap<>();
  private final Map<String, Long> roles = new TreeMap<>();
  private final Map<String, Long> notes = new TreeMap<>();
  private final TreeSet<String> mismatchSamples = new TreeSet<>();
  private long tries;

  public void tried() {
    tries++;
  }

  public long tries() {
    return tries;
  }

  public void note(String what) {
    notes.merge(what, 1L, Long::sum);
  }

  /** One exchange: its role (fuzz, setup, cleanup, janitor), the request, the answer (null: none), the changes it made. */
  public void exchange(String role, FuzzRequest request, FuzzRequest.Classification classification, RawHttp.Reply reply,
      String ending, List<Change> made, List<FuzzRequest.Classification> makers) {
    roles.merge(role, 1L, Long::sum);
    if (role.equals("fuzz")) {
      operations.merge(request.op().toString(), 1L, Long::sum);
      request.mutations().forEach(m -> mutations.merge(m, 1L, Long::sum));
      shapes.merge(request.shape(), 1L, Long::sum);
      answers.merge(reply == null ? ending : Integer.toString(reply.status()), 1L, Long::sum);
    }
    for (int i = 0; i < made.size(); i++) {
      changes.merge(made.get(i).kind() + " by " + makers.get(i).oci().operation(), 1L, Long::sum);
    }
    if (reply == null || reply.status() < 400) {
      return;
    }
    if (reply.header("Docker-Distribution-Api-Version").isPresent()) {
      registryErrors.merge(reply.status() + " " + code(reply), 1L, Long::sum);
    } else {
      refusals.merge(reason(reply), 1L, Long::sum);
    }
    boolean predicted = classification.refused();
    // A HEAD's refusal has no body to name its code: a 400 of the proxy's own is taken as the screen's.
    boolean unsupported = reply.status() == 400
        && ("UNSUPPORTED".equals(reply.error().getString("code")) || request.isHead() && reply.body().length == 0);
    if (predicted != unsupported && role.equals("fuzz")) {
      String sample = (predicted ? "predicted a screen refusal, got " : "predicted no screen refusal, got ") + reason(reply);
      notes.merge("screen prediction differs from the answer", 1L, Long::sum);
      if (mismatchSamples.size() < 10) {
        mismatchSamples.add(sample + " for " + request.method() + " " + request.target());
      }
    }
  }

  /** A refusal's status, code and message with the particulars (digests, numbers, paths, escapes) taken out. */
  static String reason(RawHttp.Reply reply) {
    JsonObject error = reply.error();
    String message = error.getString("message", reply.text().isBlank() ? "(no body)" : reply.text());
    String general = message
        .replaceAll("sha256:[0-9a-fA-F]+", "<digest>")
        .replaceAll("(/v2|/%76|/V2|//)[^ )'\"]*", "<path>")
        .replaceAll("%[0-9a-fA-F]{2}", "%XX")
        .replaceAll("\\b[A-Za-z]+(-[A-Za-z]+)? (/\\S*|<path>)", "<method> <path>")
        .replaceAll("\\d+(\\.\\d+)?", "N")
        .replaceAll("\\s+", " ");
    if (general.length() > 110) {
      general = general.substring(0, 110) + "...";
    }
    return reply.status() + " " + error.getString("code", "-") + ": " + general;
  }

  private static String code(RawHttp.Reply reply) {
    return reply.error().getString("code", "-");
  }

  public String report(long seed, long millis, String failure) {
    StringBuilder text = new StringBuilder();
    text.append("fuzzing: ").append(tries).append(" tries, seed ").append(seed).append(", ")
        .append(String.format("%.1f s", millis / 1000.0)).append(" (").append(String.format("%.1f", tries * 1000.0 / Math.max(1, millis)))
        .append(" tries/s)\n");
    text.append("exchanges by role: ").append(roles).append('\n');
    text.append("distinct request shapes (operation + set of mutation kinds): ").append(shapes.size())
        .append(", over ").append(operations.size()).append(" operations and ").append(mutations.size()).append(" mutation kinds\n");
    section(text, "tries by operation", operations, 0);
    section(text, "tries by mutation kind", mutations, 0);
    section(text, "answers to the fuzzed requests", answers, 0);
    section(text, "refusals by the proxy, by reason", refusals, 40);
    section(text, "errors from the registry, by code", registryErrors, 0);
    section(text, "storage changes, by kind and by the operation they were classified as", changes, 0);
    section(text, "most frequent shapes", shapes, 15);
    if (!notes.isEmpty()) {
      section(text, "notes", notes, 0);
    }
    if (!mismatchSamples.isEmpty()) {
      text.append("screen prediction samples:\n");
      mismatchSamples.forEach(sample -> text.append("  ").append(sample).append('\n'));
    }
    text.append("result: ").append(failure == null ? "no failure" : "FAILED\n" + failure).append('\n');
    return text.toString();
  }

  private static void section(StringBuilder text, String title, Map<String, Long> counts, int limit) {
    text.append(title).append(":\n");
    var sorted = counts.entrySet().stream()
        .sorted(Map.Entry.<String, Long>comparingByValue(Comparator.reverseOrder()).thenComparing(Map.Entry.comparingByKey()))
        .collect(Collectors.toList());
    int shown = 0;
    for (var entry : sorted) {
      if (limit > 0 && shown++ >= limit) {
        text.append(String.format("  ... %d more%n", sorted.size() - limit));
        break;
      }
      text.append(String.format("  %7d  %s%n", entry.getValue(), entry.getKey()));
    }
  }
}
