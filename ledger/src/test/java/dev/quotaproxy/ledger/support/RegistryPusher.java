package dev.quotaproxy.ledger.support;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Random;

/**
 * Puts content straight into a registry, around any proxy, the way push clients do: a blob is an upload
 * session (POST) closed with its digest (PUT), a manifest is one PUT. For tests; blocking; thread-safe.
 */
public final class RegistryPusher {
  public static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
  public static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";

  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(10)).build();
  private final String base;

  public RegistryPusher(String base) {
    this.base = base;
  }

  /** Something stored in the registry: its digest and size. */
  public record Pushed(String digest, long size) {}

  /** A blob of {@code size} bytes that {@code seed} makes unique. */
  public Pushed blob(String repository, int size, long seed) {
    return blob(repository, random(size, seed));
  }

  public Pushed blob(String repository, byte[] content) {
    String digest = digest(content);
    HttpResponse<String> start = send(HttpRequest.newBuilder(url("/v2/" + repository + "/blobs/uploads/"))
        .POST(BodyPublishers.noBody()));
    expect(start, 202, "POST upload to " + repository);
    String location = start.headers().firstValue("Location").orElseThrow();
    URI close = URI.create(base).resolve(location + (location.contains("?") ? "&" : "?") + "digest=" + digest);
    expect(send(HttpRequest.newBuilder(close).header("Content-Type", "application/octet-stream")
        .PUT(BodyPublishers.ofByteArray(content))), 201, "PUT blob " + digest + " to " + repository);
    return new Pushed(digest, content.length);
  }

  /** An OCI image manifest over a config and layers already pushed, under {@code reference} (a tag or its digest). */
  public Pushed image(String repository, String reference, Pushed config, Pushed... layers) {
    return manifest(repository, reference, OCI_MANIFEST, imageBody(config, layers));
  }

  /** An image manifest's body without pushing it, to push it by its digest. */
  public static byte[] imageBody(Pushed config, Pushed... layers) {
    StringBuilder json = new StringBuilder()
        .append("{\"schemaVersion\":2,\"mediaType\":\"").append(OCI_MANIFEST).append("\",")
        .append("\"config\":").append(descriptor("application/vnd.oci.image.config.v1+json", config)).append(",")
        .append("\"layers\":[");
    for (int i = 0; i < layers.length; i++) {
      json.append(i == 0 ? "" : ",").append(descriptor("application/vnd.oci.image.layer.v1.tar+gzip", layers[i]));
    }
    return json.append("]}").toString().getBytes(StandardCharsets.UTF_8);
  }

  /** An image manifest pushed by its own digest, untagged (the children of an index are pushed so). */
  public Pushed imageByDigest(String repository, Pushed config, Pushed... layers) {
    byte[] body = imageBody(config, layers);
    return manifest(repository, digest(body), OCI_MANIFEST, body);
  }

  /** An OCI index over manifests already pushed, one per platform. */
  public Pushed index(String repository, String tag, Pushed... manifests) {
    String[] architectures = {"amd64", "arm64", "s390x", "ppc64le"};
    StringBuilder json = new StringBuilder()
        .append("{\"schemaVersion\":2,\"mediaType\":\"").append(OCI_INDEX).append("\",\"manifests\":[");
    for (int i = 0; i < manifests.length; i++) {
      json.append(i == 0 ? "" : ",")
          .append("{\"mediaType\":\"").append(OCI_MANIFEST).append("\",\"digest\":\"").append(manifests[i].digest())
          .append("\",\"size\":").append(manifests[i].size())
          .append(",\"platform\":{\"architecture\":\"").append(architectures[i % architectures.length])
          .append("\",\"os\":\"linux\"}}");
    }
    json.append("]}");
    return manifest(repository, tag, OCI_INDEX, json.toString().getBytes(StandardCharsets.UTF_8));
  }

  public Pushed manifest(String repository, String reference, String mediaType, byte[] body) {
    expect(send(HttpRequest.newBuilder(url("/v2/" + repository + "/manifests/" + reference))
        .header("Content-Type", mediaType).PUT(BodyPublishers.ofByteArray(body))), 201,
        "PUT manifest " + repository + ":" + reference);
    return new Pushed(digest(body), body.length);
  }

  public void deleteBlob(String repository, String digest) {
    expect(send(HttpRequest.newBuilder(url("/v2/" + repository + "/blobs/" + digest)).DELETE()), 202,
        "DELETE blob " + repository + "@" + digest);
  }

  public void deleteManifest(String repository, String digest) {
    expect(send(HttpRequest.newBuilder(url("/v2/" + repository + "/manifests/" + digest)).DELETE()), 202,
        "DELETE manifest " + repository + "@" + digest);
  }

  public static byte[] random(int size, long seed) {
    byte[] bytes = new byte[size];
    new Random(seed).nextBytes(bytes);
    return bytes;
  }

  public static String digest(byte[] content) {
    try {
      return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String descriptor(String mediaType, Pushed blob) {
    return "{\"mediaType\":\"" + mediaType + "\",\"digest\":\"" + blob.digest() + "\",\"size\":" + blob.size() + "}";
  }

  private URI url(String path) {
    return URI.create(base + path);
  }

  private HttpResponse<String> send(HttpRequest.Builder request) {
    try {
      return http.send(request.timeout(Duration.ofSeconds(30)).build(), BodyHandlers.ofString());
    } catch (IOException e) {
      throw new IllegalStateException(request.build().method() + " " + request.build().uri() + " failed: " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private static void expect(HttpResponse<String> response, int status, String what) {
    if (response.statusCode() != status) {
      throw new IllegalStateException(what + ": expected " + status + ", got " + response.statusCode() + " " + response.body());
    }
  }
}
