package dev.quotaproxy.admin;

/**
 * The one form of a request path the admin listener accepts: the form Vert.x Web routes it as.
 *
 * <p>Vert.x Web (5.0) does not match routes on the path a client sent but on
 * {@code RoutingContext.normalizedPath()} ({@code RFC3986.normalizePath}): percent-encoded unreserved
 * characters are decoded ({@code %61} is {@code a}, {@code %2E} is {@code .}), dot segments are removed
 * ({@code /x/../api} is {@code /api}, {@code /./api} is {@code /api}), empty segments are collapsed
 * ({@code //api} is {@code /api}) and a leading {@code /} is added; route parameters are then
 * percent-decoded whole. A check on the raw path therefore judges another path than the one served. A
 * path is canonical when normalising it changes nothing and nothing in it can be decoded into a separator:
 * then the raw path is the routed path, byte for byte. Honest clients send nothing else, so anything else
 * is refused rather than rewritten.
 *
 * <p>Percent-encoding is allowed only where it is needed (a character outside RFC 3986's {@code pchar}),
 * and never for {@code /}. A trailing {@code /} is allowed: Vert.x routes it as the path without it, and
 * both are behind the same authentication.
 */
final class CanonicalPath {
  private static final String SUB_DELIMS_AND_PCHAR_EXTRAS = "!$&'()*+,;=:@";

  private CanonicalPath() {}

  /** Why {@code path} (a request's raw path, without the query) is not canonical, or null when it is. */
  static String problem(String path) {
    if (path == null || path.isEmpty() || path.charAt(0) != '/') {
      return "the path must start with /";
    }
    for (int i = 0; i < path.length(); i++) {
      char c = path.charAt(i);
      if (c == '%') {
        if (i + 2 >= path.length() || hex(path.charAt(i + 1)) < 0 || hex(path.charAt(i + 2)) < 0) {
          return "the path has a malformed percent-encoding at character " + i + ": a % must be followed by two hex digits";
        }
        char decoded = (char) (hex(path.charAt(i + 1)) * 16 + hex(path.charAt(i + 2)));
        if (decoded == '/') {
          return "the path has an encoded / (" + path.substring(i, i + 3) + "): send / to separate segments, nothing else";
        }
        if (unreserved(decoded)) {
          return "the path encodes '" + decoded + "' as " + path.substring(i, i + 3) + ": send it as itself";
        }
        i += 2;
      } else if (c != '/' && !unreserved(c) && SUB_DELIMS_AND_PCHAR_EXTRAS.indexOf(c) < 0) {
        return "the path has a character that must be percent-encoded at character " + i;
      }
    }
    String[] segments = path.substring(1).split("/", -1);
    for (int i = 0; i < segments.length; i++) {
      String segment = segments[i];
      if (segment.isEmpty() && i < segments.length - 1) {
        return "the path has an empty segment (//)";
      }
      if (segment.equals(".") || segment.equals("..")) {
        return "the path has a dot segment (/" + segment + "/)";
      }
    }
    return null;
  }

  private static boolean unreserved(char c) {
    return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~';
  }

  private static int hex(char c) {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
    }
    return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
  }
}
