package dev.quotaproxy.admin;

import dev.quotaproxy.config.AdminTokenConfig;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;
import java.util.Optional;

/**
 * The configured bearer tokens. Only their SHA-256 digests are kept; a presented token is hashed and
 * compared with every digest in constant time ({@link MessageDigest#isEqual}), all of them, so
 * neither the comparison nor the number of tokens tried tells a caller how close a guess was.
 */
public final class AdminTokens {
  private record Known(byte[] digest, Caller caller) {}

  private final List<Known> known;

  public AdminTokens(List<AdminTokenConfig> tokens) {
    this.known = tokens.stream()
        .map(token -> new Known(sha256(token.token()), new Caller(token.name(), token.role(), token.scopes())))
        .toList();
  }

  public boolean none() {
    return known.isEmpty();
  }

  /** The caller whose token is {@code presented}, if any. */
  public Optional<Caller> authenticate(String presented) {
    byte[] digest = sha256(presented);
    Caller found = null;
    for (Known token : known) {
      if (MessageDigest.isEqual(digest, token.digest()) && found == null) {
        found = token.caller();
      }
    }
    return Optional.ofNullable(found);
  }

  /**
   * The token of an {@code Authorization} header value, if it is a bearer one: {@code Bearer <token>},
   * the scheme in any case, as RFC 9110 says.
   */
  public static Optional<String> bearer(String authorization) {
    if (authorization == null) {
      return Optional.empty();
    }
    String value = authorization.trim();
    int space = value.indexOf(' ');
    if (space < 0 || !value.substring(0, space).equalsIgnoreCase("Bearer")) {
      return Optional.empty();
    }
    String token = value.substring(space + 1).trim();
    return token.isEmpty() ? Optional.empty() : Optional.of(token);
  }

  private static byte[] sha256(String text) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java has SHA-256", e);
    }
  }
}
