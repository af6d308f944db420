package dev.quotaproxy.proxy.http.splice;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SpliceRuleTest {

  @ParameterizedTest(name = "{0} Content-Length [{1}] chunked={2} -> {3}")
  @CsvSource(nullValues = "null", value = {
      "200, 1048576,        false, 1048576",
      "206, 2097152,        false, 2097152",
      "200, ' 5242880 ',    false, 5242880",
      "200, 1048575,        false, -1", // under 1 MiB: copying is cheaper than a new upstream connection
      "200, 0,              false, -1",
      "200, null,           false, -1", // no length: read to the close, through the decoder
      "200, 5242880,        true,  -1", // Transfer-Encoding overrides Content-Length
      "404, 5242880,        false, -1", // error bodies go through as sent
      "301, 5242880,        false, -1",
      "200, '5242880, 5242880', false, -1", // several values: the decoder settles those
      "200, -5242880,       false, -1",
      "200, +5242880,       false, -1",
      "200, 5e6,            false, -1",
      "200, '',             false, -1",
      "200, 9999999999999999999, false, -1", // past a long
  })
  void decidesWhichAnswersAreSpliced(int status, String contentLength, boolean transferEncoding, long expected) {
    assertThat(SpliceRule.spliceableLength(status, contentLength, transferEncoding)).isEqualTo(expected);
  }
}
