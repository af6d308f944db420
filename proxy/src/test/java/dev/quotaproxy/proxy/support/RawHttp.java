package dev.quotaproxy.proxy.support;

import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * HTTP/1.1 spoken byte by byte over a plain socket, as a hostile client speaks it: any method, any
 * target (sent exactly as given, encodings and dot segments included), a head without its body, a
 * body that stops, a client address of its choice. Reads answers the same way, and tells an answer
 * from a closed connection from silence.
 */
public final class RawHttp implements Closeable {
  private final Socket socket;
  private final InputStream in;
  private final OutputStream out;
  private final String authority;

  /** One response: status, headers in order, body (decoded from chunks when chunked). */
  public record Reply(int status, List<Map.Entry<String, String>> headers, byte[] body) {
    public Optional<String> header(String name) {
      return headers.stream().filter(h -> h.getKey().equalsIgnoreCase(name)).map(Map.Entry::getValue).findFirst();
    }

    public String text() {
      return new String(body, StandardCharsets.UTF_8);
    }

    /** Head and body as one text, for checking that some figure appears nowhere in the answer. */
    public String everything() {
      StringBuilder all = new StringBuilder().append(status).append('\n');
      headers.forEach(h -> all.append(h.getKey()).append(": ").append(h.getValue()).append('\n'));
      return all.append('\n').append(text()).toString();
    }

    /** The first OCI error of the body, or an empty object when the body is not one. */
    public JsonObject error() {
      try {
        return new JsonObject(text()).getJsonArray("errors").getJsonObject(0);
      } catch (RuntimeException notOci) {
        return new JsonObject();
      }
    }

    @Override
    public String toString() {
      String text = text();
      return status + " " + (text.length() > 400 ? text.substring(0, 400) + "..." : text);
    }
  }

  /** What the other side did while this client waited: answered, closed the connection, or nothing. */
  public record Ending(Reply reply, boolean closed) {
    public boolean silent() {
      return reply == null && !closed;
    }

    @Override
    public String toString() {
      return reply != null ? "answered " + reply : closed ? "connection closed" : "nothing";
    }
  }

  private RawHttp(Socket socket, String authority) throws IOException {
    this.socket = socket;
    this.in = new java.io.BufferedInputStream(socket.getInputStream(), 64 * 1024);
    this.out = socket.getOutputStream();
    this.authority = authority;
  }

  /** Connects to {@code http://host:port} (any path of the URL is ignored). */
  public static RawHttp connect(String origin) throws IOException {
    return connect(origin, null);
  }

  /** Connects from the given local address (127.0.0.2, say: another client on the loopback). */
  public static RawHttp connect(String origin, InetAddress localAddress) throws IOException {
    URI uri = URI.create(origin);
    Socket socket = new Socket();
    socket.setTcpNoDelay(true);
    if (localAddress != null) {
      socket.bind(new InetSocketAddress(localAddress, 0));
    }
    socket.connect(new InetSocketAddress(uri.getHost(), uri.getPort()), 10_000);
    return new RawHttp(socket, uri.getHost() + ":" + uri.getPort());
  }

  /**
   * One request on a connection of its own (its body, if any, sent beside the read, so that an answer
   * given before the body is taken is still read), answered within 30 seconds.
   */
  public static Reply exchange(String origin, String method, String target, byte[] body, String... headers) throws IOException {
    try (RawHttp http = connect(origin)) {
      return http.request(method, target, body, headers);
    }
  }

  /** One request on this connection, as {@link #exchange}; the connection stays open for the next. */
  public Reply request(String method, String target, byte[] body, String... headers) throws IOException {
    head(method, target, withLength(body, headers));
    Thread writer = null;
    if (body.length > 0) {
      writer = new Thread(() -> {
        try {
          write(body);
        } catch (IOException refused) {
          // The other side stopped reading: its answer says why.
        }
      }, "raw-http-body");
      writer.setDaemon(true);
      writer.start();
    }
    Reply reply = read(Duration.ofSeconds(30), method.equals("HEAD"));
    if (writer != null) {
      try {
        writer.join(10_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    return reply;
  }

  /** {@code headers} with a {@code Content-Length} of the body added, unless they set one or a transfer encoding. */
  public static String[] withLength(byte[] body, String... headers) {
    for (int i = 0; i < headers.length; i += 2) {
      if (headers[i].equalsIgnoreCase("Content-Length") || headers[i].equalsIgnoreCase("Transfer-Encoding")) {
        return headers;
      }
    }
    String[] all = java.util.Arrays.copyOf(headers, headers.length + 2);
    all[headers.length] = "Content-Length";
    all[headers.length + 1] = Integer.toString(body.length);
    return all;
  }

  /** The path and query of a URL (a {@code Location}), raw: what goes on a request line. */
  public static String target(String url) {
    URI uri = URI.create(url);
    return uri.getRawPath() + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery());
  }

  /** Writes a request line and head, {@code Host} first, then the given name/value pairs; no body. */
  public RawHttp head(String method, String target, String... headers) throws IOException {
    StringBuilder head = new StringBuilder(method).append(' ').append(target).append(" HTTP/1.1\r\n")
        .append("Host: ").append(authority).append("\r\n");
    for (int i = 0; i < headers.length; i += 2) {
      head.append(headers[i]).append(": ").append(headers[i + 1]).append("\r\n");
    }
    return write(head.append("\r\n").toString().getBytes(StandardCharsets.ISO_8859_1));
  }

  public RawHttp write(byte[] bytes) throws IOException {
    out.write(bytes);
    out.flush();
    return this;
  }

  /** One chunk of a {@code Transfer-Encoding: chunked} body. */
  public RawHttp chunk(byte[] bytes, int offset, int length) throws IOException {
    out.write((Integer.toHexString(length) + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
    out.write(bytes, offset, length);
    out.write("\r\n".getBytes(StandardCharsets.ISO_8859_1));
    out.flush();
    return this;
  }

  /** The last chunk: the chunked body ends. */
  public RawHttp lastChunk() throws IOException {
    return write("0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
  }

  /**
   * Sends the body in chunks of {@code chunkSize}, then the last chunk, stopping quietly if the other
   * side closes the connection (it refused the rest): returns the bytes that went out.
   */
  public long sendChunked(byte[] body, int chunkSize) {
    long sent = 0;
    try {
      for (int offset = 0; offset < body.length; offset += chunkSize) {
        int length = Math.min(chunkSize, body.length - offset);
        chunk(body, offset, length);
        sent += length;
      }
      lastChunk();
    } catch (IOException closedByPeer) {
      // Refused part-way: the answer says why.
    }
    return sent;
  }

  /** Reads one response (skipping 1xx), failing with {@link SocketTimeoutException} if none comes in time. */
  public Reply read(Duration timeout) throws IOException {
    return read(timeout, false);
  }

  public Reply read(Duration timeout, boolean toHead) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      Reply reply = readOne(deadline, toHead);
      if (reply.status() >= 200) {
        return reply;
      }
    }
  }

  /** Reads the next response, an interim one (100 Continue) included: only its head for a 1xx. */
  public Reply readInterim(Duration timeout) throws IOException {
    return readOne(System.nanoTime() + timeout.toNanos(), false);
  }

  /**
   * Waits up to the timeout for the other side to answer or close the connection; either ends the
   * wait at once. Silence for the whole timeout is {@link Ending#silent()}.
   */
  public Ending awaitEnding(Duration timeout) {
    try {
      return new Ending(read(timeout), false);
    } catch (SocketTimeoutException silence) {
      return new Ending(null, false);
    } catch (IOException closed) {
      return new Ending(null, true);
    }
  }

  /**
   * Closes the sending side only: the other side reads the end of the stream, as from a client that
   * stopped short of the body it announced, while this side can still read the answer.
   */
  public void shutdownOutput() throws IOException {
    socket.shutdownOutput();
  }

  public InetAddress localAddress() {
    return socket.getLocalAddress();
  }

  @Override
  public void close() {
    try {
      socket.close();
    } catch (IOException e) {
      // Closing is all that was asked.
    }
  }

  private Reply readOne(long deadline, boolean toHead) throws IOException {
    String statusLine = line(deadline);
    String[] parts = statusLine.split(" ", 3);
    if (parts.length < 2 || !parts[0].startsWith("HTTP/")) {
      throw new IOException("not an HTTP status line: " + statusLine);
    }
    int status = Integer.parseInt(parts[1]);
    List<Map.Entry<String, String>> headers = new ArrayList<>();
    for (String line = line(deadline); !line.isEmpty(); line = line(deadline)) {
      int colon = line.indexOf(':');
      headers.add(Map.entry(line.substring(0, colon).trim(), line.substring(colon + 1).trim()));
    }
    Reply head = new Reply(status, headers, new byte[0]);
    if (toHead || status < 200 || status == 204 || status == 304) {
      return head;
    }
    String encoding = head.header("Transfer-Encoding").orElse("").toLowerCase(Locale.ROOT);
    if (encoding.contains("chunked")) {
      ByteArrayOutputStream body = new ByteArrayOutputStream();
      for (int size = Integer.parseInt(line(deadline).split(";")[0].trim(), 16); size > 0; size = Integer
          .parseInt(line(deadline).split(";")[0].trim(), 16)) {
        body.write(bytes(size, deadline));
        line(deadline);
      }
      for (String trailer = line(deadline); !trailer.isEmpty(); trailer = line(deadline)) {
        // Trailers are not kept.
      }
      return new Reply(status, headers, body.toByteArray());
    }
    Optional<String> length = head.header("Content-Length");
    if (length.isPresent()) {
      return new Reply(status, headers, bytes(Integer.parseInt(length.get()), deadline));
    }
    // Neither: the body runs to the close.
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    try {
      for (int b = next(deadline); b >= 0; b = next(deadline)) {
        body.write(b);
      }
    } catch (SocketException reset) {
      // Ended by a reset rather than a close: what came is the body.
    }
    return new Reply(status, headers, body.toByteArray());
  }

  private String line(long deadline) throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    for (int b = next(deadline); b != '\n'; b = next(deadline)) {
      if (b < 0) {
        throw new EOFException("connection closed" + (line.size() > 0 ? " after " + line : ""));
      }
      if (b != '\r') {
        line.write(b);
      }
    }
    return line.toString(StandardCharsets.ISO_8859_1);
  }

  private byte[] bytes(int count, long deadline) throws IOException {
    byte[] bytes = new byte[count];
    int read = 0;
    while (read < count) {
      setTimeout(deadline);
      int n = in.read(bytes, read, count - read);
      if (n < 0) {
        throw new EOFException("connection closed after " + read + " of " + count + " body bytes");
      }
      read += n;
    }
    return bytes;
  }

  private int next(long deadline) throws IOException {
    setTimeout(deadline);
    return in.read();
  }

  private void setTimeout(long deadline) throws IOException {
    long left = Math.max(1, (deadline - System.nanoTime()) / 1_000_000);
    if (deadline - System.nanoTime() <= 0) {
      throw new SocketTimeoutException("no answer in time");
    }
    socket.setSoTimeout((int) Math.min(Integer.MAX_VALUE, left));
  }
}
