package dev.quotaproxy.metering;

import dev.quotaproxy.oci.Blob;
import java.util.List;

/** What a request was about to make the registry do when its intent was recorded (see intend.lua). */
public record Intent(String requestId, What what, String repository, String digest, String sessionId, long size, List<Blob> references,
    long endedAtMillis) {
  public enum What { COMMIT, COMMIT_MANIFEST, DROP_BLOB, DROP_MANIFEST }

  /** An intent of a request still going (its end not known yet: -1). */
  public Intent(String requestId, What what, String repository, String digest, String sessionId, long size, List<Blob> references) {
    this(requestId, what, repository, digest, sessionId, size, references, -1);
  }

  /** The same intent, of a request that ended at {@code millis} (epoch ms). */
  public Intent endedAt(long millis) {
    return new Intent(requestId, what, repository, digest, sessionId, size, references, millis);
  }
}
