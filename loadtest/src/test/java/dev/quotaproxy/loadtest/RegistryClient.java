package dev.quotaproxy.loadtest;

import static io.gatling.javaapi.core.CoreDsl.ByteArrayBody;
import static io.gatling.javaapi.core.CoreDsl.doIf;
import static io.gatling.javaapi.core.CoreDsl.exec;
import static io.gatling.javaapi.http.HttpDsl.header;
import static io.gatling.javaapi.http.HttpDsl.http;
import static io.gatling.javaapi.http.HttpDsl.status;

import io.gatling.javaapi.core.ChainBuilder;
import io.gatling.javaapi.core.Session;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What registry clients send, as Gatling chains over the session attributes {@link OciImages} sets and
 * {@code repository} and {@code tag}: a push (a HEAD per blob first, as docker does; the config by POST
 * and monolithic PUT; the layer by POST, chunked PATCH and closing PUT; the manifest by PUT) and a pull
 * (manifest HEAD and GET, then the layer).
 *
 * <p>A push into a tenant at its limit may be refused: the proxy answers {@code 403 DENIED} (a storage
 * limit) or {@code 429} (too many pushes at once). For such pushes a refusal is an expected outcome: it
 * is counted in {@link #REFUSED}, not as a failed request, and ends the user's push. Anywhere else it fails.
 */
final class RegistryClient {
  /** Pushes the proxy refused where the workload expects refusals. */
  static final AtomicLong REFUSED = new AtomicLong();

  private RegistryClient() {}

  /** A push; with {@code mayBeRefused}, a refusal ends it and is counted apart from errors. */
  static ChainBuilder push(boolean mayBeRefused) {
    Integer[] closed = mayBeRefused ? new Integer[] {201, 403, 429} : new Integer[] {201};
    Integer[] accepted = mayBeRefused ? new Integer[] {202, 403, 429} : new Integer[] {202};
    String suffix = mayBeRefused ? " [limited tenant]" : "";
    ChainBuilder base = doIf(session -> session.contains("baseDigest")).then(exec(
        http("blob HEAD" + suffix).head("/v2/#{repository}/blobs/#{baseDigest}").check(status().in(200, 404).saveAs("status")),
        doIf(session -> session.getInt("status") == 404).then(exec(
            http("upload start" + suffix).post("/v2/#{repository}/blobs/uploads/")
                .check(status().in(accepted).saveAs("status"), header("Location").optional().saveAs("upload")),
            stopIfRefused(),
            http("upload monolithic PUT" + suffix).put(session -> closing(session, "baseDigest"))
                .header("Content-Type", "application/octet-stream").body(ByteArrayBody("#{base}"))
                .check(status().in(closed).saveAs("status")),
            stopIfRefused()))));
    return exec(
        base,
        http("blob HEAD" + suffix).head("/v2/#{repository}/blobs/#{configDigest}").check(status().in(200, 404)),
        http("upload start" + suffix).post("/v2/#{repository}/blobs/uploads/")
            .check(status().in(accepted).saveAs("status"), header("Location").optional().saveAs("upload")),
        stopIfRefused(),
        http("upload monolithic PUT" + suffix).put(session -> closing(session, "configDigest"))
            .header("Content-Type", "application/octet-stream").body(ByteArrayBody("#{config}"))
            .check(status().in(closed).saveAs("status")),
        stopIfRefused(),
        http("blob HEAD" + suffix).head("/v2/#{repository}/blobs/#{layerDigest}").check(status().in(200, 404)),
        http("upload start" + suffix).post("/v2/#{repository}/blobs/uploads/")
            .check(status().in(accepted).saveAs("status"), header("Location").optional().saveAs("upload")),
        stopIfRefused(),
        http("upload chunk PATCH" + suffix).patch("#{upload}")
            .header("Content-Type", "application/octet-stream").body(ByteArrayBody("#{layer}"))
            .check(status().in(accepted).saveAs("status"), header("Location").optional().saveAs("upload")),
        stopIfRefused(),
        http("upload closing PUT" + suffix).put(session -> closing(session, "layerDigest"))
            .check(status().in(closed).saveAs("status")),
        stopIfRefused(),
        http("manifest PUT" + suffix).put("/v2/#{repository}/manifests/#{tag}")
            .header("Content-Type", OciImages.MANIFEST_TYPE).body(ByteArrayBody("#{manifest}"))
            .check(status().in(closed).saveAs("status"), header("Docker-Content-Digest").optional().saveAs("pushedDigest")),
        stopIfRefused());
  }

  /** A pull of what {@link #push} pushed, as a client pulls: the manifest, then its layer. */
  static ChainBuilder pull() {
    return exec(
        http("manifest HEAD").head("/v2/#{repository}/manifests/#{tag}").header("Accept", OciImages.MANIFEST_TYPE)
            .check(status().is(200), header("Docker-Content-Digest").isEL("#{manifestDigest}")),
        http("manifest GET").get("/v2/#{repository}/manifests/#{manifestDigest}").header("Accept", OciImages.MANIFEST_TYPE)
            .check(status().is(200)),
        http("blob GET").get("/v2/#{repository}/blobs/#{layerDigest}")
            .check(status().is(200), header("Content-Length").isEL("#{layerSize}")));
  }

  private static ChainBuilder stopIfRefused() {
    return exec(session -> {
      if (refused(session)) {
        REFUSED.incrementAndGet();
      }
      return session;
    }).exitHereIf(RegistryClient::refused);
  }

  private static boolean refused(Session session) {
    int status = session.contains("status") ? session.getInt("status") : 0;
    return status == 403 || status == 429;
  }

  private static String closing(Session session, String digest) {
    return OciImages.closing(session.getString("upload"), session.getString(digest));
  }
}
