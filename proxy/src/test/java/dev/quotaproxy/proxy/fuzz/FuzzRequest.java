package dev.quotaproxy.proxy.fuzz;

import dev.quotaproxy.proxy.route.OciError;
import dev.quotaproxy.proxy.route.OciRequest;
import dev.quotaproxy.proxy.route.OciRequestClassifier;
import dev.quotaproxy.proxy.route.RequestScreen;
import dev.quotaproxy.proxy.route.RequestTarget;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.TreeSet;

/**
 * One request as a hostile client writes it: a request line and header lines sent exactly as given
 * (after {@code Host}), a body in the framing chosen (which may disagree with the headers), from the
 * client address chosen. Mutable while {@link RequestGenerator} builds it; read-only after.
 *
 * <p>{@link #classify()} reads it as the proxy does: the path and query split from the target as
 * Vert.x splits them ({@code HttpUtils.parsePath} and {@code parseQuery}), the method as sent, every
 * {@code Content-Type} value, and "has a body" as {@code ProxyExchange} decides it (a
 * {@code Transfer-Encoding} containing {@code chunked}, or a {@code Content-Length} above 0); then
 * the same pure classes the proxy runs: {@link RequestTarget#parse}, {@link OciRequestClassifier},
 * {@link RequestScreen}.
 */
public final class FuzzRequest {
  /** How the body goes on the wire. */
  public enum Framing {
    /** Nothing after the head. */
    NONE,
    /** The body as it is; the head carries its length (unless a mutation changed it). */
    LENGTH,
    /** Chunked transfer coding: chunks of random sizes, maybe extensions, a trailer. */
    CHUNKED
  }

  /** One header line: the name and value as a parser would read them, and the line as sent. */
  public record Header(String name, String value, String line) {
    public static Header of(String name, String value) {
      return new Header(name, value, name + ": " + value);
    }
  }

  /** What the proxy's pure classes make of the request. */
  public record Classification(RequestTarget target, OciRequest oci, Optional<OciError> refusal) {
    public boolean refused() {
      return refusal.isPresent();
    }

    @Override
    public String toString() {
      return oci.operation() + (oci.repository() == null ? "" : " " + oci.repository())
          + (oci.uploadId() == null ? "" : " upload " + oci.uploadId())
          + (oci.digest() == null ? "" : " digest " + oci.digest())
          + (oci.reference() == null ? "" : " reference " + oci.reference())
          + (oci.mountFrom() == null ? "" : " from " + oci.mountFrom())
          + "; " + target
          + "; " + (refusal.isPresent() ? "refused: " + refusal.get().message() : "not refused");
    }
  }

  final RequestGenerator.Op op;
  String method;
  /** An absolute-form prefix ({@code http://host:port}), or "". */
  String origin = "";
  String path;
  /** Raw query pairs, joined by '&'; empty with {@link #forceQuery} false: no '?'. */
  final List<String> pairs = new ArrayList<>();
  boolean forceQuery;
  /** Appended to the target as sent ("#..."), or "". */
  String suffix = "";
  String version = "HTTP/1.1";
  final List<Header> headers = new ArrayList<>();
  byte[] payload = new byte[0];
  Framing framing = Framing.NONE;
  /** The Transfer-Encoding value sent with chunked framing. */
  String transferEncoding = "chunked";
  /** Added to the payload's length in the Content-Length header (negative: shorter than sent); 0: exact. */
  int lengthDelta;
  /** Send no Content-Length header at all (framing LENGTH with a body the server must guess). */
  boolean omitLength;
  /** Content-Length sent as well as chunked framing. */
  boolean lengthWithChunked;
  /** Close the sending side after the body (a client that stops short of its Content-Length). */
  boolean halfClose;
  boolean upperHexChunks;
  boolean chunkExtensions;
  boolean trailer;
  long chunkSeed;
  /** Connect from this loopback address (null: the default, 127.0.0.1). */
  String clientAddress;
  /** The upload session this request was built for (its registry id), or null. */
  String uploadId;
  final TreeSet<String> mutations = new TreeSet<>();

  FuzzRequest(RequestGenerator.Op op, String method, String path) {
    this.op = op;
    this.method = method;
    this.path = path;
  }

  /** An unmutated request, as a registry client sends it: the target split at its '?', the body with its length. */
  public static FuzzRequest honest(RequestGenerator.Op op, String method, String target, String contentType, byte[] body) {
    int query = target.indexOf('?');
    FuzzRequest request = new FuzzRequest(op, method, query < 0 ? target : target.substring(0, query));
    if (query >= 0 && query + 1 < target.length()) {
      java.util.Collections.addAll(request.pairs, target.substring(query + 1).split("&", -1));
    }
    if (contentType != null) {
      request.headers.add(Header.of("Content-Type", contentType));
    }
    if (body.length > 0) {
      request.payload = body;
      request.framing = Framing.LENGTH;
    }
    return request;
  }

  /** Marks the request as one on this upload session. */
  public FuzzRequest forUpload(String uploadId) {
    this.uploadId = uploadId;
    return this;
  }

  /** What the Content-Length header adds to the payload's length (negative: it announces less than is sent). */
  public int lengthDelta() {
    return lengthDelta;
  }

  /** Whether the sending side is closed after the body. */
  public boolean halfClose() {
    return halfClose;
  }

  public RequestGenerator.Op op() {
    return op;
  }

  public String method() {
    return method;
  }

  public String uploadId() {
    return uploadId;
  }

  public String clientAddress() {
    return clientAddress;
  }

  public TreeSet<String> mutations() {
    return mutations;
  }

  /** {@code op} and its mutation kinds: what the statistics count as one shape. */
  public String shape() {
    return op + (mutations.isEmpty() ? "" : " + " + String.join(" + ", mutations));
  }

  /** The request target as it goes on the request line. */
  public String target() {
    return origin + path + (pairs.isEmpty() && !forceQuery ? "" : "?" + String.join("&", pairs)) + suffix;
  }

  public boolean expectsContinue() {
    return headers.stream().anyMatch(h -> h.name().trim().equalsIgnoreCase("Expect"));
  }

  public boolean isHead() {
    return method.equals("HEAD");
  }

  /** Request line, Host, the header lines (with framing headers), the empty line. */
  public byte[] head(String authority) {
    StringBuilder head = new StringBuilder(method).append(' ').append(target()).append(' ').append(version).append("\r\n")
        .append("Host: ").append(authority).append("\r\n");
    for (Header header : allHeaders()) {
      head.append(header.line()).append("\r\n");
    }
    return head.append("\r\n").toString().getBytes(StandardCharsets.ISO_8859_1);
  }

  /** The headers as sent, framing headers included, in order. */
  public List<Header> allHeaders() {
    List<Header> all = new ArrayList<>(headers);
    boolean setsLength = all.stream().anyMatch(h -> h.name().trim().equalsIgnoreCase("Content-Length"));
    boolean setsEncoding = all.stream().anyMatch(h -> h.name().trim().equalsIgnoreCase("Transfer-Encoding"));
    if (framing == Framing.CHUNKED) {
      if (!setsEncoding) {
        all.add(Header.of("Transfer-Encoding", transferEncoding));
      }
      if (lengthWithChunked && !setsLength) {
        all.add(Header.of("Content-Length", Integer.toString(Math.max(0, payload.length + lengthDelta))));
      }
    } else if (framing == Framing.LENGTH && !omitLength && !setsLength) {
      all.add(Header.of("Content-Length", Integer.toString(Math.max(0, payload.length + lengthDelta))));
    }
    return all;
  }

  /** The bytes after the head, exactly as sent. */
  public byte[] wire() {
    if (framing != Framing.CHUNKED) {
      return payload;
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    java.util.SplittableRandom sizes = new java.util.SplittableRandom(chunkSeed);
    int offset = 0;
    while (offset < payload.length) {
      int size = Math.min(payload.length - offset, 1 + sizes.nextInt(Math.max(1, Math.min(payload.length, 32 * 1024))));
      String hex = Integer.toHexString(size);
      out.writeBytes((upperHexChunks ? hex.toUpperCase(Locale.ROOT) : hex).getBytes(StandardCharsets.ISO_8859_1));
      if (chunkExtensions) {
        out.writeBytes(";ext=\"x\"".getBytes(StandardCharsets.ISO_8859_1));
      }
      out.writeBytes("\r\n".getBytes(StandardCharsets.ISO_8859_1));
      out.write(payload, offset, size);
      out.writeBytes("\r\n".getBytes(StandardCharsets.ISO_8859_1));
      offset += size;
    }
    out.writeBytes("0\r\n".getBytes(StandardCharsets.ISO_8859_1));
    if (trailer) {
      out.writeBytes("X-Fuzz-Trailer: 1\r\n".getBytes(StandardCharsets.ISO_8859_1));
    }
    out.writeBytes("\r\n".getBytes(StandardCharsets.ISO_8859_1));
    return out.toByteArray();
  }

  /** The request as the proxy's pure classes read it (see the class comment). */
  public Classification classify() {
    String target = target();
    String rawPath = proxyPath(target);
    String rawQuery = proxyQuery(target);
    RequestTarget parsed = RequestTarget.parse(rawPath, rawQuery);
    OciRequest oci = OciRequestClassifier.classify(method, parsed);
    List<String> contentTypes = new ArrayList<>();
    String transferEncoding = null;
    String contentLength = null;
    for (Header header : allHeaders()) {
      String name = header.name().trim();
      if (name.equalsIgnoreCase("Content-Type")) {
        contentTypes.add(header.value().trim());
      } else if (name.equalsIgnoreCase("Transfer-Encoding") && transferEncoding == null) {
        transferEncoding = header.value().trim();
      } else if (name.equalsIgnoreCase("Content-Length") && contentLength == null) {
        contentLength = header.value().trim();
      }
    }
    boolean chunked = transferEncoding != null && transferEncoding.toLowerCase(Locale.ROOT).contains("chunked");
    long length = -1;
    if (contentLength != null && !chunked) {
      try {
        length = Long.parseLong(contentLength);
      } catch (NumberFormatException e) {
        length = -1;
      }
    }
    boolean hasBody = chunked || length > 0;
    return new Classification(parsed, oci, RequestScreen.refusal(method, parsed, oci, contentTypes, hasBody));
  }

  /**
   * Whether the proxy's HTTP parser (Netty) reads no body at all: no {@code Transfer-Encoding} with a
   * {@code chunked} token and no {@code Content-Length} above 0 (what follows the head is then the
   * next request's), or chunked with no data.
   */
  public boolean serverReadsNoBody() {
    String encoding = null;
    String length = null;
    for (Header header : allHeaders()) {
      String name = header.name().trim();
      if (name.equalsIgnoreCase("Transfer-Encoding") && encoding == null) {
        encoding = header.value();
      } else if (name.equalsIgnoreCase("Content-Length") && length == null) {
        length = header.value().trim();
      }
    }
    if (encoding != null && java.util.Arrays.stream(encoding.split(",")).anyMatch(t -> t.trim().equalsIgnoreCase("chunked"))) {
      return payload.length == 0;
    }
    try {
      return length == null || Long.parseLong(length) == 0;
    } catch (NumberFormatException e) {
      return true;
    }
  }

  /** Vert.x's {@code HttpUtils.parsePath}: the path of an origin-form or absolute-form target, up to the first '?'. */
  static String proxyPath(String uri) {
    int start;
    if (uri.isEmpty()) {
      return "";
    }
    if (uri.charAt(0) == '/') {
      start = 0;
    } else {
      start = uri.indexOf("://");
      if (start == -1) {
        start = 0;
      } else {
        start = uri.indexOf('/', start + 3);
        if (start == -1) {
          return "/";
        }
      }
    }
    int query = uri.indexOf('?', start);
    return uri.substring(start, query == -1 ? uri.length() : query);
  }

  /** Vert.x's {@code HttpUtils.parseQuery}: everything after the first '?', or null. */
  static String proxyQuery(String uri) {
    int query = uri.indexOf('?');
    return query == -1 ? null : uri.substring(query + 1);
  }

  /** The exact request, head and body, escaped for a person to read (the body cut after some bytes). */
  public String describe(String authority) {
    StringBuilder text = new StringBuilder();
    text.append(escape(head(authority), Integer.MAX_VALUE));
    byte[] wire = wire();
    text.append("<body: ").append(wire.length).append(" bytes on the wire, payload ").append(payload.length)
        .append(", framing ").append(framing).append(halfClose ? ", then the sending side closed" : "")
        .append(clientAddress != null ? ", from " + clientAddress : "").append(">");
    if (wire.length > 0) {
      text.append(' ').append(escape(wire, 240));
    }
    return text.toString();
  }

  /** Printable ASCII as it is; CR and LF as \r\n with a line break after LF; everything else as \xNN. */
  public static String escape(byte[] bytes, int max) {
    StringBuilder text = new StringBuilder();
    int n = Math.min(bytes.length, max);
    for (int i = 0; i < n; i++) {
      int b = bytes[i] & 0xFF;
      if (b == '\r') {
        text.append("\\r");
      } else if (b == '\n') {
        text.append("\\n\n    ");
      } else if (b == '\\') {
        text.append("\\\\");
      } else if (b >= 0x20 && b < 0x7F) {
        text.append((char) b);
      } else {
        text.append(String.format("\\x%02x", b));
      }
    }
    if (bytes.length > n) {
      text.append("...(").append(bytes.length - n).append(" more bytes)");
    }
    return text.toString();
  }
}
