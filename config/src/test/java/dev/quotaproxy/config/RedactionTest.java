package dev.quotaproxy.config;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RedactionTest {
  @ParameterizedTest
  @CsvSource({
      "redis://app:s3cret@h:6379/0, redis://app:***@h:6379/0",
      "rediss://:s3cret@h, rediss://:***@h",
      "redis://s3cret@h, redis://***@h",
      "http://user:pw@r:5000/v2/, http://user:***@r:5000/v2/",
      "redis://h:6379, redis://h:6379",
      "redis://h/0?password=s3cret, redis://h/0?password=***",
      "redis://h?user=app&password=s3cret&db=1, redis://h?user=app&password=***&db=1",
      "/etc/quota-proxy/ca.pem, /etc/quota-proxy/ca.pem",
      "user:pw@host, user:pw@host",
      "95%, 95%"})
  void hidesThePasswordOfAUrlOnly(String text, String shown) {
    assertThat(Redaction.hidePassword(text)).isEqualTo(shown);
  }
}
