package dev.quotaproxy.config;

import java.util.List;

/** Start-up configuration is unusable; {@link #problems()} says, one line each, what and why. */
public final class ConfigurationException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final List<String> problems;

  public ConfigurationException(List<String> problems) {
    super("invalid configuration:\n  " + String.join("\n  ", problems));
    this.problems = List.copyOf(problems);
  }

  public List<String> problems() {
    return problems;
  }
}
