package dev.quotaproxy.config;

/**
 * Turns the text of a setting into its typed value. Throws {@link IllegalArgumentException} whose
 * message says, to a person, why the text is not acceptable ("must be between 1 and 65535").
 */
@FunctionalInterface
public interface ValueParser<T> {
  T parse(String text);
}
