package dev.quotaproxy.proxy;

import static dev.quotaproxy.proxy.support.OciTestClient.digest;
import static dev.quotaproxy.proxy.support.OciTestClient.randomBytes;
import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.proxy.support.OciTestClient;
import dev.quotaproxy.proxy.support.OciTestClient.Reply;
import dev.quotaproxy.proxy.support.ProxyFixture;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest.BodyPublishers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Writes dressed up so that a proxy classifying the raw request would let them through unmetered,
 * while the registry behind (CNCF distribution 2.8, Go) executes them: encoded route keywords,
 * parameters in form bodies, methods and routes the proxy does not meter. Each is sent byte for byte
 * over a socket, through the real proxy to a real registry, and must be answered 400
 * {@code UNSUPPORTED} by the proxy with the registry's files left exactly as they were.
 */
class DisguisedWritesTest {
  private static final String LIMITS = """
      quota:
        scopes:
          disguise:
            storage-hard: 4MiB
      """;
  private static final int BLOB_SIZE = 256 * 1024;

  @RegisterExtension static final ProxyFixture proxy = ProxyFixture.of(LIMITS);

  @Test
  void anUploadStartBehindAnEncodedSlashIsRefused() throws Exception {
    assertRefusedAndNothingStored("POST", "/v2/disguise/encoded/blobs%2Fuploads/", Map.of(), new byte[0],
        "the request path is not in canonical form: encoded '/' (%2F) in segment 4");
  }

  @Test
  void aClosingPutBehindAnEncodedSlashIsRefused() throws Exception {
    byte[] blob = randomBytes(BLOB_SIZE);
    String session = path(proxy.client().startUpload("disguise/encoded-put").header("Location").orElseThrow());

    assertRefusedAndNothingStored("PUT", session.replace("/blobs/uploads/", "/blobs%2Fuploads/") + "&digest=" + digest(blob),
        Map.of("Content-Type", "application/octet-stream"), blob,
        "the request path is not in canonical form: encoded '/' (%2F) in segment 4");
    assertThat(proxy.harness().direct().head("/v2/disguise/encoded-put/blobs/" + digest(blob)).status()).isEqualTo(404);
  }

  @Test
  void anUploadStartUnderAnEncodedV2IsRefused() throws Exception {
    assertRefusedAndNothingStored("POST", "/%762/disguise/v2/blobs/uploads/", Map.of(), new byte[0],
        "the request path is not in canonical form: '%76' in segment 1 encodes 'v', which needs no encoding");
  }

  @Test
  void aDigestInAFormBodyOfTheClosingPutIsRefused() throws Exception {
    byte[] blob = randomBytes(BLOB_SIZE);
    String session = path(proxy.client().startUpload("disguise/form-put").header("Location").orElseThrow());
    Reply patched = proxy.client().send("PATCH", session, BodyPublishers.ofByteArray(blob), "Content-Type", "application/octet-stream");
    assertThat(patched.status()).isEqualTo(202);

    assertRefusedAndNothingStored("PUT", path(patched.header("Location").orElseThrow()),
        Map.of("Content-Type", "application/x-www-form-urlencoded"), ("digest=" + digest(blob)).getBytes(StandardCharsets.UTF_8),
        "a form body (Content-Type: application/x-www-form-urlencoded) is not accepted on PUT requests:"
            + " the registry would read parameters such as digest and mount from it");
    assertThat(proxy.harness().direct().head("/v2/disguise/form-put/blobs/" + digest(blob)).status()).isEqualTo(404);
  }

  /** The control: the same form-body closing PUT, straight to the registry, stores the blob. */
  @Test
  void aDigestInAFormBodyIsReadByTheRegistry() throws Exception {
    byte[] blob = randomBytes(BLOB_SIZE);
    OciTestClient registry = proxy.harness().direct();
    String session = path(registry.startUpload("disguise/form-direct").header("Location").orElseThrow());
    Reply patched = registry.send("PATCH", session, BodyPublishers.ofByteArray(blob), "Content-Type", "application/octet-stream");

    RawAnswer answer = send(registry.base(), "PUT", path(patched.header("Location").orElseThrow()),
        Map.of("Content-Type", "application/x-www-form-urlencoded"), ("digest=" + digest(blob)).getBytes(StandardCharsets.UTF_8));

    assertThat(answer.status()).isEqualTo(201);
    assertThat(registry.head("/v2/disguise/form-direct/blobs/" + digest(blob)).status()).isEqualTo(200);
  }

  @Test
  void aMountInAFormBodyIsRefused() throws Exception {
    byte[] blob = randomBytes(BLOB_SIZE);
    assertThat(proxy.client().pushBlob("disguise/source", blob).status()).isEqualTo(201);

    assertRefusedAndNothingStored("POST", "/v2/disguise/form-mount/blobs/uploads/",
        Map.of("Content-Type", "multipart/form-data; boundary=b"), multipart("b", "mount", digest(blob), "from", "disguise/source"),
        "a form body (Content-Type: multipart/form-data; boundary=b) is not accepted on POST requests:"
            + " the registry would read parameters such as digest and mount from it");
    assertThat(proxy.harness().direct().head("/v2/disguise/form-mount/blobs/" + digest(blob)).status()).isEqualTo(404);
  }

  @Test
  void aMountOnAnUploadSessionIsRefused() throws Exception {
    byte[] blob = randomBytes(BLOB_SIZE);
    assertThat(proxy.client().pushBlob("disguise/source", blob).status()).isEqualTo(201);
    String session = path(proxy.client().startUpload("disguise/session-mount").header("Location").orElseThrow());

    // distribution 2.8 answers a POST on a session URL with a new upload, or here a mount (201).
    assertRefusedAndNothingStored("POST", session + "&mount=" + digest(blob) + "&from=disguise/source", Map.of(), new byte[0],
        "POST " + session.substring(0, session.indexOf('?')) + " is not a registry operation this proxy recognises");
    assertThat(proxy.harness().direct().head("/v2/disguise/session-mount/blobs/" + digest(blob)).status()).isEqualTo(404);
  }

  @Test
  void aBlobPutWithABodyIsRefused() throws Exception {
    byte[] blob = randomBytes(BLOB_SIZE);

    assertRefusedAndNothingStored("PUT", "/v2/disguise/blob-put/blobs/" + digest(blob), Map.of("Content-Type", "application/octet-stream"),
        blob, "PUT /v2/disguise/blob-put/blobs/" + digest(blob) + " is not a registry operation this proxy recognises");
  }

  @Test
  void aManifestPostIsRefused() throws Exception {
    byte[] manifest = OciTestClient.image(randomBytes(1024)).manifest().getBytes(StandardCharsets.UTF_8);

    assertRefusedAndNothingStored("POST", "/v2/disguise/manifest-post/manifests/x", Map.of("Content-Type", OciTestClient.OCI_MANIFEST),
        manifest, "POST /v2/disguise/manifest-post/manifests/x is not a registry operation this proxy recognises");
  }

  @Test
  void aLowerCasePatchIsRefused() throws Exception {
    byte[] blob = randomBytes(BLOB_SIZE);
    String session = path(proxy.client().startUpload("disguise/lower").header("Location").orElseThrow());

    assertRefusedAndNothingStored("patch", session, Map.of("Content-Type", "application/octet-stream"), blob,
        "patch " + session.substring(0, session.indexOf('?')) + " is not a registry operation this proxy recognises");
  }

  @Test
  void aClosingPutWithTwoDigestsIsRefused() throws Exception {
    byte[] blob = randomBytes(BLOB_SIZE);
    String session = path(proxy.client().startUpload("disguise/twice").header("Location").orElseThrow());

    assertRefusedAndNothingStored("PUT", session + "&digest=" + digest(new byte[] {1}) + "&digest=" + digest(blob),
        Map.of("Content-Type", "application/octet-stream"), blob, "the request query is ambiguous: 'digest' is given more than once");
    assertThat(proxy.harness().direct().head("/v2/disguise/twice/blobs/" + digest(blob)).status()).isEqualTo(404);
  }

  @Test
  void aNameWhoseFirstComponentIsAHostIsMeteredAsTheRegistryStoresIt() throws Exception {
    byte[] blob = randomBytes(BLOB_SIZE);

    // distribution's name grammar takes a host first: "Disguise/app" is a repository it stores.
    assertThat(proxy.client().pushBlob("Disguise/app", blob).status()).isEqualTo(201);

    assertThat(proxy.harness().scope(proxy.store(), "Disguise/app").used()).isEqualTo(blob.length);
    assertThat(proxy.harness().scope(proxy.store(), "Disguise").used()).isEqualTo(blob.length);
  }

  /** Sends the request as written, expects the proxy's 400 UNSUPPORTED, and that the registry's files did not change. */
  private static void assertRefusedAndNothingStored(String method, String target, Map<String, String> headers, byte[] body,
      String message) throws Exception {
    Map<String, Long> before = registryFiles();

    RawAnswer answer = send(proxy.client().base(), method, target, headers, body);

    assertThat(answer.status()).as(answer.body()).isEqualTo(400);
    JsonObject error = new JsonObject(answer.body()).getJsonArray("errors").getJsonObject(0);
    assertThat(error.getString("code")).isEqualTo("UNSUPPORTED");
    assertThat(error.getString("message")).isEqualTo(message);
    assertThat(registryFiles()).as("the registry's blobs and repositories").isEqualTo(before);
  }

  /** Every file under the registry's blobs and repositories, with its size. */
  private static Map<String, Long> registryFiles() throws IOException {
    Map<String, Long> files = new TreeMap<>();
    Path root = proxy.harness().registry().storage().resolve("docker/registry/v2");
    for (String area : new String[] {"blobs", "repositories"}) {
      Path dir = root.resolve(area);
      if (!Files.exists(dir)) {
        continue;
      }
      try (Stream<Path> walk = Files.walk(dir)) {
        for (Path file : (Iterable<Path>) walk.filter(Files::isRegularFile)::iterator) {
          files.put(root.relativize(file).toString(), Files.size(file));
        }
      }
    }
    return files;
  }

  record RawAnswer(int status, String body) {}

  /** One HTTP/1.1 exchange over a socket: the request line and headers exactly as given, no client rewriting them. */
  private static RawAnswer send(String base, String method, String target, Map<String, String> headers, byte[] body)
      throws IOException {
    URI server = URI.create(base);
    try (Socket socket = new Socket(server.getHost(), server.getPort())) {
      socket.setSoTimeout(30_000);
      StringBuilder head = new StringBuilder(method + " " + target + " HTTP/1.1\r\n")
          .append("Host: ").append(server.getAuthority()).append("\r\n")
          .append("Content-Length: ").append(body.length).append("\r\n")
          .append("Connection: close\r\n");
      headers.forEach((name, value) -> head.append(name).append(": ").append(value).append("\r\n"));
      OutputStream out = socket.getOutputStream();
      out.write(head.append("\r\n").toString().getBytes(StandardCharsets.ISO_8859_1));
      out.write(body);
      out.flush();
      return readAnswer(socket.getInputStream());
    }
  }

  private static RawAnswer readAnswer(InputStream in) throws IOException {
    ByteArrayOutputStream headBytes = new ByteArrayOutputStream();
    int matched = 0;
    while (matched < 4) {
      int b = in.read();
      if (b < 0) {
        throw new IOException("connection closed in the answer's head: " + headBytes);
      }
      headBytes.write(b);
      matched = b == "\r\n\r\n".charAt(matched) ? matched + 1 : (b == '\r' ? 1 : 0);
    }
    String[] lines = headBytes.toString(StandardCharsets.ISO_8859_1).split("\r\n");
    int status = Integer.parseInt(lines[0].split(" ")[1]);
    int length = 0;
    for (String line : lines) {
      if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
        length = Integer.parseInt(line.substring("content-length:".length()).trim());
      }
    }
    return new RawAnswer(status, new String(in.readNBytes(length), StandardCharsets.UTF_8));
  }

  private static byte[] multipart(String boundary, String... fields) {
    StringBuilder body = new StringBuilder();
    for (int i = 0; i < fields.length; i += 2) {
      body.append("--").append(boundary).append("\r\n")
          .append("Content-Disposition: form-data; name=\"").append(fields[i]).append("\"\r\n\r\n")
          .append(fields[i + 1]).append("\r\n");
    }
    return body.append("--").append(boundary).append("--\r\n").toString().getBytes(StandardCharsets.UTF_8);
  }

  /** Path and query of a Location the registry gave, which points at the proxy. */
  private static String path(String location) {
    URI uri = URI.create(location);
    return uri.getRawPath() + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery());
  }
}
