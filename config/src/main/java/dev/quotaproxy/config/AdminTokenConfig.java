package dev.quotaproxy.config;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * One bearer token of the admin API, as the file gives it under {@code admin.tokens.<name>}.
 *
 * @param name   who the token is, as the audit log and the access log name it (never the token itself)
 * @param token  the secret a caller presents in {@code Authorization: Bearer ...}
 * @param role   {@code admin} (everything) or {@code viewer} (reads the scopes of {@code scopes})
 * @param scopes for a viewer, the scopes it may read, each with every scope under it
 */
public record AdminTokenConfig(String name, String token, Role role, List<String> scopes) {

  public enum Role { ADMIN, VIEWER }

  public AdminTokenConfig {
    scopes = List.copyOf(scopes);
  }

  /** Without the secret: configurations get logged. */
  @Override
  public String toString() {
    return "AdminToken[name=" + name + ", role=" + role + ", scopes=" + scopes + "]";
  }

  /** Tokens shorter than this are refused: they would be guessed. */
  static final int MIN_TOKEN_LENGTH = 16;

  public static final Setting<String> TOKEN = Setting.optional("token", "SECRET",
      "The bearer token, at least 16 characters (e.g. openssl rand -hex 24).", Parsers.text());
  public static final Setting<Role> ROLE = Setting.withDefault("role", "admin|viewer",
      "admin: every endpoint. viewer: reads usage, limits and reports of its scopes only.", "viewer", text -> {
        return switch (text.trim()) {
          case "admin" -> Role.ADMIN;
          case "viewer" -> Role.VIEWER;
          default -> throw new IllegalArgumentException("must be admin or viewer");
        };
      });
  public static final Setting<List<String>> SCOPES = Setting.optional("scopes", "SCOPE,...",
      "Scopes a viewer may read, comma-separated; each covers every scope under it.", text -> {
        List<String> scopes = new ArrayList<>();
        for (String scope : Arrays.stream(text.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList()) {
          scopes.add(Parsers.repositoryName().parse(scope));
        }
        return List.copyOf(scopes);
      });

  public static final List<Setting<?>> FIELDS = List.of(TOKEN, ROLE, SCOPES);

  /** Checks the fields against each other; adds a problem and gives nothing when they disagree. */
  static Optional<AdminTokenConfig> from(MapSetting setting, String name, Settings entry, List<String> problems) {
    Optional<String> token = entry.find(TOKEN);
    if (token.isEmpty()) {
      problems.add(setting.keyOf(name, TOKEN) + " is missing: every admin token needs its secret");
      return Optional.empty();
    }
    if (token.get().length() < MIN_TOKEN_LENGTH) {
      problems.add(setting.keyOf(name, TOKEN) + " is too short: at least " + MIN_TOKEN_LENGTH + " characters");
      return Optional.empty();
    }
    Role role = entry.get(ROLE);
    List<String> scopes = entry.find(SCOPES).orElse(List.of());
    if (role == Role.VIEWER && scopes.isEmpty()) {
      problems.add(setting.keyOf(name, SCOPES) + " is empty: a viewer token must be granted at least one scope");
      return Optional.empty();
    }
    return Optional.of(new AdminTokenConfig(name, token.get(), role, scopes));
  }
}
