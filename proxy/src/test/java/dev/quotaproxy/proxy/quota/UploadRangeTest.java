package dev.quotaproxy.proxy.quota;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** How much of an upload a registry says it holds, read from its Range header. */
class UploadRangeTest {

  @ParameterizedTest
  @CsvSource(nullValues = "null", value = {
      "0-1023,        1024",
      "0-0,           1",
      "bytes=0-99,    100",
      "' 0-4194303 ', 4194304",
      "null,          -1",
      "'',            -1",
      "1-100,         -1",
      "0-,            -1",
      "0-x,           -1",
      "-5,            -1",
      "0--1,          -1"})
  void bytesHeld(String range, long expected) {
    assertThat(UploadRange.storedBytes(range)).isEqualTo(expected);
  }
}
