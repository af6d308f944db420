package dev.quotaproxy.proxy.support;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublisher;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Optional;
import java.util.Random;

/**
 * A small registry client for tests, speaking the distribution API the way push clients do: open an
 * upload, send the blob (with a length, or chunked), close it with its digest, put a manifest.
 */
public final class OciTestClient {
  public static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(10)).build();
  private final String base;

  public OciTestClient(String base) {
    this.base = base;
  }

  public String base() {
    return base;
  }

  public record Reply(int status, java.net.http.HttpHeaders headers, String body) {
    public Optional<String> header(String name) {
      return headers.firstValue(name);
    }
  }

  public Reply send(String method, String pathOrUrl, BodyPublisher body, String... headers) {
    HttpRequest.Builder request = HttpRequest.newBuilder(url(pathOrUrl)).timeout(Duration.ofSeconds(60)).method(method, body);
    for (int i = 0; i < headers.length; i += 2) {
      request.header(headers[i], headers[i + 1]);
    }
    try {
      HttpResponse<String> response = http.send(request.build(), BodyHandlers.ofString());
      return new Reply(response.statusCode(), response.headers(), response.body());
    } catch (IOException e) {
      throw new IllegalStateException(method + " " + pathOrUrl + " failed: " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  public Reply get(String path) {
    return send("GET", path, BodyPublishers.noBody());
  }

  public Reply head(String path) {
    return send("HEAD", path, BodyPublishers.noBody());
  }

  public Reply delete(String path) {
    return send("DELETE", path, BodyPublishers.noBody());
  }

  /** Opens an upload session; returns the POST's reply (202 with a Location, or a refusal). */
  public Reply startUpload(String repository) {
    return send("POST", "/v2/" + repository + "/blobs/uploads/", BodyPublishers.noBody());
  }

  /** Start, then one PUT with the whole blob and its Content-Length: returns the closing reply (or the refused start). */
  public Reply pushBlob(String repository, byte[] blob) {
    Reply start = startUpload(repository);
    if (start.status() != 202) {
      return start;
    }
    return send("PUT", withDigest(start.header("Location").orElseThrow(), digest(blob)), BodyPublishers.ofByteArray(blob));
  }

  /** Start, one chunked PATCH (no Content-Length, as podman sends), then an empty closing PUT. */
  public Reply pushBlobChunked(String repository, byte[] blob) {
    Reply start = startUpload(repository);
    if (start.status() != 202) {
      return start;
    }
    Reply patch = send("PATCH", start.header("Location").orElseThrow(),
        BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(blob)), "Content-Type", "application/octet-stream");
    if (patch.status() != 202) {
      return patch;
    }
    return send("PUT", withDigest(patch.header("Location").orElseThrow(), digest(blob)), BodyPublishers.noBody());
  }

  public Reply mount(String repository, String digest, String from) {
    return send("POST", "/v2/" + repository + "/blobs/uploads/?mount=" + digest + "&from=" + from, BodyPublishers.noBody());
  }

  public Reply putManifest(String repository, String reference, String json) {
    return send("PUT", "/v2/" + repository + "/manifests/" + reference,
        BodyPublishers.ofString(json), "Content-Type", OCI_MANIFEST);
  }

  /** An image: a config and layers of random bytes, and its OCI manifest. */
  public record Image(byte[] config, byte[][] layers, String manifest) {
    public String manifestDigest() {
      return digest(manifest.getBytes(StandardCharsets.UTF_8));
    }

    public long manifestSize() {
      return manifest.getBytes(StandardCharsets.UTF_8).length;
    }

    /** Bytes this image adds to a scope that holds none of it. */
    public long totalSize() {
      long total = config.length + manifestSize();
      for (byte[] layer : layers) {
        total += layer.length;
      }
      return total;
    }
  }

  public static Image image(byte[]... layers) {
    byte[] config = ("{\"architecture\":\"amd64\",\"os\":\"linux\",\"nonce\":\"" + new Random().nextLong() + "\"}")
        .getBytes(StandardCharsets.UTF_8);
    StringBuilder manifest = new StringBuilder("{\"schemaVersion\":2,\"mediaType\":\"" + OCI_MANIFEST + "\",")
        .append("\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"")
        .append(digest(config)).append("\",\"size\":").append(config.length).append("},\"layers\":[");
    for (int i = 0; i < layers.length; i++) {
      manifest.append(i == 0 ? "" : ",").append("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"")
          .append(digest(layers[i])).append("\",\"size\":").append(layers[i].length).append('}');
    }
    return new Image(config, layers, manifest.append("]}").toString());
  }

  /** Pushes every blob of the image, then its manifest under the tag; returns the manifest PUT's reply. */
  public Reply pushImage(String repository, String tag, Image image) {
    Reply config = pushBlob(repository, image.config());
    if (config.status() != 201) {
      return config;
    }
    for (byte[] layer : image.layers()) {
      Reply pushed = pushBlob(repository, layer);
      if (pushed.status() != 201) {
        return pushed;
      }
    }
    return putManifest(repository, tag, image.manifest());
  }

  public static byte[] randomBytes(int size) {
    byte[] bytes = new byte[size];
    new Random().nextBytes(bytes);
    return bytes;
  }

  public static String digest(byte[] bytes) {
    try {
      return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private URI url(String pathOrUrl) {
    return URI.create(pathOrUrl.startsWith("http") ? pathOrUrl : base + pathOrUrl);
  }

  private static String withDigest(String location, String digest) {
    return location + (location.contains("?") ? "&" : "?") + "digest=" + digest;
  }
}
