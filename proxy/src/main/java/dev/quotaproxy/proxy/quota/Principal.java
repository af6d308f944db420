package dev.quotaproxy.proxy.quota;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Locale;

/**
 * Who a request acts for, as a label on metering reports. Nothing here authenticates: the registry
 * checks the credentials and refuses bad ones, so a token's signature is not verified. A label that
 * cannot be read is {@link #ANONYMOUS}, never an error, so metering never fails a request. Pure.
 */
public final class Principal {
  public static final String ANONYMOUS = "anonymous";
  /** Longer names are cut: a label, kept short for report keys and logs. */
  public static final int MAX_NAME_LENGTH = 128;

  private Principal() {}

  /**
   * {@code Basic base64(user:password)} gives the user; {@code Bearer <JWT>} gives the token's
   * {@code sub} claim; anything else, null, or undecodable gives {@link #ANONYMOUS}.
   */
  public static String user(String authorizationHeader) {
    if (authorizationHeader == null) {
      return ANONYMOUS;
    }
    String header = authorizationHeader.trim();
    int space = header.indexOf(' ');
    if (space < 0) {
      return ANONYMOUS;
    }
    // The scheme is case-insensitive (RFC 9110).
    String scheme = header.substring(0, space).toLowerCase(Locale.ROOT);
    String credentials = header.substring(space + 1).trim();
    try {
      String name = switch (scheme) {
        case "basic" -> basicUser(credentials);
        case "bearer" -> tokenSubject(credentials);
        default -> null;
      };
      return label(name);
    } catch (IllegalArgumentException | DecodeException unreadable) {
      // Bad base64 or a payload that is not JSON: the registry will refuse it; we only label.
      return ANONYMOUS;
    }
  }

  private static String basicUser(String credentials) {
    String decoded = new String(Base64.getDecoder().decode(credentials), StandardCharsets.UTF_8);
    int colon = decoded.indexOf(':');
    // The user id cannot contain a colon (RFC 7617), so without one this is not user:password.
    return colon < 0 ? null : decoded.substring(0, colon);
  }

  private static String tokenSubject(String token) {
    String[] parts = token.split("\\.", -1);
    // header.payload.signature; an encrypted token (5 parts) has no readable payload and fails to decode below.
    if (parts.length < 2) {
      return null;
    }
    byte[] payload = Base64.getUrlDecoder().decode(stripPadding(parts[1]));
    Object claims = Json.decodeValue(new String(payload, StandardCharsets.UTF_8));
    return claims instanceof JsonObject object && object.getValue("sub") instanceof String subject ? subject : null;
  }

  /** Base64url in tokens has no padding, but some issuers add it anyway; the decoder accepts either alone. */
  private static String stripPadding(String text) {
    int end = text.length();
    while (end > 0 && text.charAt(end - 1) == '=') {
      end--;
    }
    return text.substring(0, end);
  }

  /** Control characters dropped (they would forge lines in logs), trimmed, capped; empty becomes anonymous. */
  private static String label(String name) {
    if (name == null) {
      return ANONYMOUS;
    }
    StringBuilder clean = new StringBuilder();
    name.codePoints().filter(c -> !Character.isISOControl(c)).forEach(clean::appendCodePoint);
    String trimmed = clean.toString().strip();
    if (trimmed.isEmpty()) {
      return ANONYMOUS;
    }
    if (trimmed.codePointCount(0, trimmed.length()) > MAX_NAME_LENGTH) {
      // Cut by code points so a surrogate pair is never split.
      trimmed = trimmed.substring(0, trimmed.offsetByCodePoints(0, MAX_NAME_LENGTH)).strip();
    }
    return trimmed;
  }
}
