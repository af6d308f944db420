package dev.quotaproxy.ledger.events;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class WebhookSignatureTest {
  private static final byte[] BODY = "{\"id\":\"e1\",\"type\":\"QUOTA_EXCEEDED\"}".getBytes(StandardCharsets.UTF_8);

  @Test
  void matchesAnHmacComputedElsewhere() {
    // openssl: printf '1700000000.{"id":"e1","type":"QUOTA_EXCEEDED"}' | openssl dgst -sha256 -hmac 'secret-of-sixteen-chars'
    assertThat(WebhookSignature.sign("secret-of-sixteen-chars", 1_700_000_000L, BODY))
        .isEqualTo("sha256=21bd9b060b6c819dd7f3397e7880a5547d6826d28b0fcaec5d83582903b44583");
  }

  @Test
  void aReceiverVerifiesByRecomputing() {
    String signature = WebhookSignature.sign("secret-of-sixteen-chars", 1_700_000_000L, BODY);

    assertThat(WebhookSignature.verify("secret-of-sixteen-chars", 1_700_000_000L, BODY, signature)).isTrue();
    assertThat(WebhookSignature.verify("another-secret-16-chars", 1_700_000_000L, BODY, signature)).isFalse();
    assertThat(WebhookSignature.verify("secret-of-sixteen-chars", 1_700_000_001L, BODY, signature)).as("another timestamp").isFalse();
    assertThat(WebhookSignature.verify("secret-of-sixteen-chars", 1_700_000_000L, "{}".getBytes(StandardCharsets.UTF_8), signature))
        .isFalse();
    assertThat(WebhookSignature.verify("secret-of-sixteen-chars", 1_700_000_000L, BODY, null)).isFalse();
  }
}
