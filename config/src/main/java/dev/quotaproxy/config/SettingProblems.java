package dev.quotaproxy.config;

import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/** How a problem with a setting is worded: its refusal, and the known name an unknown one was likely meant as. */
final class SettingProblems {
  private SettingProblems() {}

  /** "listen.port (from flag --port): '70000' must be between 0 and 65535", with any password in the text hidden. */
  static String refusal(String key, String source, String text, String reason) {
    return key + " (from " + source + "): '" + Redaction.hidePassword(text) + "' " + reason;
  }

  /** The known name a couple of typos away from an unknown one, if any. */
  static Optional<String> closest(List<String> known, String unknown) {
    return known.stream()
        .filter(key -> editDistance(key, unknown) <= 3)
        .min(Comparator.comparingInt(key -> editDistance(key, unknown)));
  }

  static int editDistance(String a, String b) {
    int[] previous = new int[b.length() + 1];
    int[] current = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      previous[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      current[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int substitution = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        current[j] = Math.min(substitution, Math.min(previous[j], current[j - 1]) + 1);
      }
      int[] swap = previous;
      previous = current;
      current = swap;
    }
    return previous[b.length()];
  }
}
