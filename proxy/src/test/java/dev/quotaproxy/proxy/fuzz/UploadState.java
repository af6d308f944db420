package dev.quotaproxy.proxy.fuzz;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Base64;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * An upload's {@code _state} as CNCF distribution 2.8 signs it ({@code registry/handlers/hmac.go}):
 * base64url (padded) of HMAC-SHA256 over the JSON of name, UUID, offset and start time, followed by
 * that JSON, keyed with the registry's {@code http.secret}. For the tests' own housekeeping only (a
 * session whose current state its client never learned); the test registry's secret is fixed.
 */
public final class UploadState {
  /** {@code RealRegistry}'s {@code http.secret}. */
  private static final String SECRET = "quota-proxy-test-secret";

  private UploadState() {}

  /** The {@code _state} value, percent-encoded for a query, of the upload at {@code offset} bytes. */
  public static String sign(String repository, String uploadId, long offset, String startedAt) {
    String json = "{\"Name\":\"" + repository + "\",\"UUID\":\"" + uploadId + "\",\"Offset\":" + offset
        + ",\"StartedAt\":\"" + startedAt + "\"}";
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(SECRET.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
      byte[] sum = mac.doFinal(json.getBytes(StandardCharsets.UTF_8));
      byte[] token = new byte[sum.length + json.length()];
      System.arraycopy(sum, 0, token, 0, sum.length);
      System.arraycopy(json.getBytes(StandardCharsets.UTF_8), 0, token, sum.length, json.length());
      return URLEncoder.encode(Base64.getUrlEncoder().encodeToString(token), StandardCharsets.US_ASCII);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }
}
