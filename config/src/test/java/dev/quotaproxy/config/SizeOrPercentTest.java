package dev.quotaproxy.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SizeOrPercentTest {
  private final ValueParser<SizeOrPercent> parser = SizeOrPercent.parser();

  @ParameterizedTest
  @CsvSource({"8G,8589934592", "500MB,500000000", "80,80", "-1,-1", "0,0"})
  void sizesWithoutAPercentSignAreBytes(String text, long bytes) {
    assertThat(parser.parse(text)).isEqualTo(new SizeOrPercent.Bytes(bytes));
  }

  @Test
  void aPercentSignMakesAShare() {
    assertThat(parser.parse("80%")).isEqualTo(new SizeOrPercent.Percent(0.8));
    assertThat(parser.parse(" 12.5 % ")).isEqualTo(new SizeOrPercent.Percent(0.125));
  }

  @Test
  void aShareIsResolvedToTheNearestByte() {
    assertThat(parser.parse("80%").of(10L * 1024 * 1024 * 1024)).isEqualTo(8L * 1024 * 1024 * 1024);
    assertThat(parser.parse("29%").of(100)).isEqualTo(29);
    assertThat(parser.parse("50%").of(3)).isEqualTo(2);
    assertThat(parser.parse("8G").of(1)).isEqualTo(8589934592L);
  }

  @Test
  void refusalsSayBothFormsOrWhyThePercentageIsWrong() {
    assertThatThrownBy(() -> parser.parse("lots"))
        .hasMessage("must be a size like 500M, 8G or 10GB (-1 for none), or a percentage like 80%");
    assertThatThrownBy(() -> parser.parse("1.5"))
        .hasMessage("must be a size like 500M, 8G or 10GB (-1 for none), or a percentage like 80%");
    assertThatThrownBy(() -> parser.parse("150%")).hasMessage("must be at most 100%");
    assertThatThrownBy(() -> parser.parse("0%")).hasMessage("must be more than 0%");
    assertThatThrownBy(() -> parser.parse("8G%")).hasMessage("must be a percentage like 95%");
  }
}
