package dev.quotaproxy.proxy.route;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * A request's path and query as the registry behind the proxy will read them, worked out once per
 * request; or why the proxy cannot be sure it reads them the same way. Pure.
 *
 * <p>How CNCF distribution 2.8 reads a request target (Go net/http and net/url, gorilla/mux; the
 * Debian build the tests run is distribution 2.8.2 on Go 1.19):
 * <ul>
 *   <li>net/http parses the target with {@code url.ParseRequestURI}: nothing is split off as a
 *       fragment; the path is unescaped in path mode, where every {@code %XX} becomes its byte
 *       ({@code %2F} a '/', {@code %2E} a '.', {@code %76} a 'v'), '+' stays '+', and a malformed
 *       escape fails the request with 400. {@code RawPath} keeps the client's spelling, but routing
 *       does not look at it.
 *   <li>gorilla/mux, as distribution sets it up ({@code StrictSlash(true)}, {@code UseEncodedPath}
 *       off), matches routes against the decoded {@code URL.Path}. Before that it runs
 *       {@code path.Clean} over it and answers 301 when that changes anything ({@code //},
 *       {@code /./}, {@code /../}); a trailing slash that differs from the route's template is a 301
 *       too. So {@code /v2/acme/app/blobs%2Fuploads/} and {@code /%762/acme/app/blobs/uploads/} are
 *       both routed as upload starts.
 *   <li>Parameters are read with {@code url.ParseQuery} (through {@code r.FormValue} and
 *       {@code URL.Query()}): pairs split on '&amp;' only; since Go 1.17 a pair containing ';' is
 *       skipped (an error nobody looks at); a pair with a malformed escape is skipped; '+' is a space;
 *       the first value of a repeated name wins.
 * </ul>
 *
 * <p>The proxy forwards the raw path and query, so it must classify exactly what the registry will
 * route. It therefore accepts only a path in canonical form: written the way Go would write its
 * decoded self back ({@code URL.EscapedPath}: only what must be escaped, upper-case hex), so decoding is a no-op on
 * everything the routes look at, with no encoded '%', no empty segment but a trailing one, and no
 * '.' or '..' segment. Real clients (docker, containerd, podman and skopeo, crane, oras) escape
 * nothing in registry paths, so they never meet this. Under {@code /v2/}, the query must also read
 * one way only: no ';', no malformed escape, and {@code digest}, {@code mount} and {@code from} at
 * most once each and spelled without escapes. Escaped values are fine and common
 * ({@code digest=sha256%3A...}, {@code _state=...%3D}).
 */
public final class RequestTarget {
  /** Parameters quota decisions read; each must mean one thing to the proxy and to the registry. */
  private static final Set<String> DECIDING_PARAMETERS = Set.of("digest", "mount", "from");

  private final String path;
  private final Map<String, List<String>> parameters;
  private final String problem;

  private RequestTarget(String path, Map<String, List<String>> parameters, String problem) {
    this.path = path;
    this.parameters = parameters;
    this.problem = problem;
  }

  /**
   * @param rawPath  the request path as received, still percent-encoded
   * @param rawQuery the query as received, without '?', or null
   */
  public static RequestTarget parse(String rawPath, String rawQuery) {
    StringBuilder decoded = new StringBuilder();
    String pathProblem = decodePath(rawPath, decoded);
    if (pathProblem != null) {
      return new RequestTarget(null, Map.of(), "the request path is not in canonical form: " + pathProblem);
    }
    String path = decoded.toString();
    Map<String, List<String>> parameters = new LinkedHashMap<>();
    String queryProblem = parseQuery(rawQuery, parameters);
    boolean registryApi = isRegistryApi(path);
    parameters.replaceAll((name, values) -> List.copyOf(values));
    return new RequestTarget(path, Map.copyOf(parameters),
        registryApi && queryProblem != null ? "the request query is ambiguous: " + queryProblem : null);
  }

  /** Whether the registry reads this target as the proxy does; if not, {@link #problem()} says why. */
  public boolean canonical() {
    return problem == null;
  }

  /** Why the target is not canonical, for a person to read; null when it is. */
  public String problem() {
    return problem;
  }

  /** The decoded path the registry routes, or null when the raw path is not in canonical form. */
  public String path() {
    return path;
  }

  /** {@code /v2} or anything under {@code /v2/}: the distribution API. */
  public boolean isRegistryApi() {
    return path != null && isRegistryApi(path);
  }

  /** The parameter's first value, as Go's {@code FormValue} and {@code Query().Get} read it; null when absent. */
  public String parameter(String name) {
    List<String> values = parameters.get(name);
    return values == null ? null : values.get(0);
  }

  private static boolean isRegistryApi(String path) {
    return path.equals("/v2") || path.startsWith("/v2/");
  }

  /** Appends the decoded path to {@code decoded}; returns what keeps it from being canonical, or null. */
  private static String decodePath(String raw, StringBuilder decoded) {
    if (raw == null || !raw.startsWith("/")) {
      return "it does not start with '/'";
    }
    // Split the raw path: an encoded '/' is refused below, so these are the segments the registry sees.
    String[] segments = raw.split("/", -1);
    for (int n = 1; n < segments.length; n++) {
      String segment = segments[n];
      decoded.append('/');
      String problem = decodeSegment(segment, n, decoded);
      if (problem != null) {
        return problem;
      }
      if (segment.isEmpty() && n < segments.length - 1) {
        return "empty segment " + n + " ('//')";
      }
      if (segment.equals(".") || segment.equals("..")) {
        return "'" + segment + "' segment " + n;
      }
    }
    return null;
  }

  private static String decodeSegment(String segment, int n, StringBuilder decoded) {
    for (int i = 0; i < segment.length(); i++) {
      char c = segment.charAt(i);
      if (c != '%') {
        if (goEscapesInPath(c)) {
          return describe(c) + " in segment " + n + " must be percent-encoded";
        }
        decoded.append(c);
        continue;
      }
      int value = escapedByte(segment, i);
      if (value < 0) {
        return "malformed percent-escape '" + segment.substring(i, Math.min(i + 3, segment.length())) + "' in segment " + n;
      }
      String escape = segment.substring(i, i + 3);
      switch (value) {
        case '/' -> {
          return "encoded '/' (" + escape + ") in segment " + n;
        }
        case '.' -> {
          return "encoded '.' (" + escape + ") in segment " + n;
        }
        case '%' -> {
          return "encoded '%' (" + escape + ") in segment " + n;
        }
        default -> {
          if (!goEscapesInPath((char) value)) {
            return "'" + escape + "' in segment " + n + " encodes '" + (char) value + "', which needs no encoding";
          }
          if (!escape.equals(escape.toUpperCase(Locale.ROOT))) {
            return "'" + escape + "' in segment " + n + " is not written in upper case";
          }
        }
      }
      // One char per byte (ISO-8859-1): the route grammars are ASCII, so bytes are all that matter.
      decoded.append((char) value);
      i += 2;
    }
    return null;
  }

  /**
   * Go's {@code shouldEscape(c, encodePath)}: everything but letters, digits, {@code -_.~} and the
   * reserved characters a path may carry as they are, {@code $&+,/:;=@}.
   */
  private static boolean goEscapesInPath(char c) {
    if (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
      return false;
    }
    return "-_.~$&+,/:;=@".indexOf(c) < 0;
  }

  /** Parses as Go's {@code url.ParseQuery} does, into {@code parameters}; returns the first ambiguity, or null. */
  private static String parseQuery(String rawQuery, Map<String, List<String>> parameters) {
    if (rawQuery == null || rawQuery.isEmpty()) {
      return null;
    }
    String problem = null;
    for (String pair : rawQuery.split("&", -1)) {
      if (pair.indexOf(';') >= 0) {
        // Go skips the pair; a proxy that split on ';' too, or not at all, would read other parameters.
        problem = first(problem, "it contains ';', which the registry does not read as a separator");
        continue;
      }
      if (pair.isEmpty()) {
        continue;
      }
      int equals = pair.indexOf('=');
      String rawName = equals < 0 ? pair : pair.substring(0, equals);
      String name = unescapeQueryComponent(rawName);
      String value = unescapeQueryComponent(equals < 0 ? "" : pair.substring(equals + 1));
      if (name == null || value == null) {
        problem = first(problem, "malformed percent-escape in '" + pair + "'");
        continue;
      }
      if (DECIDING_PARAMETERS.contains(name) && !name.equals(rawName)) {
        problem = first(problem, "the parameter name '" + name + "' is written '" + rawName + "'");
      }
      List<String> values = parameters.computeIfAbsent(name, k -> new ArrayList<>(1));
      values.add(value);
      if (DECIDING_PARAMETERS.contains(name) && values.size() == 2) {
        problem = first(problem, "'" + name + "' is given more than once");
      }
    }
    return problem;
  }

  private static String first(String earlier, String later) {
    return earlier != null ? earlier : later;
  }

  /** Go's {@code QueryUnescape}: '+' is a space, {@code %XX} a byte; null for a malformed escape. */
  private static String unescapeQueryComponent(String text) {
    if (text.indexOf('%') < 0 && text.indexOf('+') < 0) {
      return text;
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(text.length());
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == '%') {
        int value = escapedByte(text, i);
        if (value < 0) {
          return null;
        }
        bytes.write(value);
        i += 2;
      } else if (c == '+') {
        bytes.write(' ');
      } else {
        // Netty hands over request-line bytes one char each; write them back as the same bytes.
        bytes.writeBytes(c <= 0xFF ? new byte[] {(byte) c} : String.valueOf(c).getBytes(StandardCharsets.UTF_8));
      }
    }
    return bytes.toString(StandardCharsets.UTF_8);
  }

  /** The byte of the escape {@code %XX} at {@code i}, or -1 when it is not one. */
  private static int escapedByte(String text, int i) {
    if (i + 2 >= text.length()) {
      return -1;
    }
    int high = hexDigit(text.charAt(i + 1));
    int low = hexDigit(text.charAt(i + 2));
    return high < 0 || low < 0 ? -1 : high * 16 + low;
  }

  /** ASCII hex only, as Go's {@code ishex}: {@link Character#digit} would also take other scripts' digits. */
  private static int hexDigit(char c) {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
    }
    return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
  }

  private static String describe(char c) {
    return c >= 0x21 && c < 0x7F ? "'" + c + "'" : String.format("character U+%04X", (int) c);
  }

  @Override
  public String toString() {
    return problem != null ? "RequestTarget[" + problem + "]" : "RequestTarget[" + path + " " + parameters + "]";
  }
}
