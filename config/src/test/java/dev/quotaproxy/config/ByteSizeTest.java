package dev.quotaproxy.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ByteSizeTest {
  @ParameterizedTest
  @CsvSource({
      "0,0", "1024,1024", "-1,-1",
      "1K,1024", "1k,1024", "1KiB,1024", "1Ki,1024", "1KB,1000", "1kb,1000",
      "500M,524288000", "500MiB,524288000", "500MB,500000000",
      "1G,1073741824", "1 GiB,1073741824", "1GB,1000000000", "1.5G,1610612736",
      "2TiB,2199023255552", "2T,2199023255552", "2TB,2000000000000", "1P,1125899906842624"})
  void parses(String text, long bytes) {
    assertThat(ByteSize.parse(text)).isEqualTo(bytes);
  }

  @ParameterizedTest
  @CsvSource({"''", "lots", "1X", "1i", "-2", "1.5", "G", "10000000P"})
  void refusesWhatIsNotASize(String text) {
    assertThatThrownBy(() -> ByteSize.parse(text)).isInstanceOf(IllegalArgumentException.class);
  }

  @ParameterizedTest
  @CsvSource({"-1,unlimited", "0,0 B", "512,512 B", "1024,1.0 KiB", "12582912,12.0 MiB",
      "11166914969,10.4 GiB", "10737418240,10.0 GiB", "2199023255552,2.0 TiB"})
  void formatsInBinaryUnits(long bytes, String text) {
    assertThat(ByteSize.format(bytes)).isEqualTo(text);
  }

  @Test
  void parserAtLeastRefusesLessAndUnlimited() {
    ValueParser<Long> atLeast64KiB = ByteSize.parserAtLeast(64 * 1024);
    assertThat(atLeast64KiB.parse("64K")).isEqualTo(65536);
    assertThat(atLeast64KiB.parse("1G")).isEqualTo(1073741824);
    assertThatThrownBy(() -> atLeast64KiB.parse("64KB")).hasMessage("must be at least 64.0 KiB");
    assertThatThrownBy(() -> atLeast64KiB.parse("-1")).hasMessage("must be at least 64.0 KiB");
    assertThatThrownBy(() -> atLeast64KiB.parse("lots")).hasMessageStartingWith("must be a size like");
  }
}
