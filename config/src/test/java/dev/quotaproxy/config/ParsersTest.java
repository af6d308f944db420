package dev.quotaproxy.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class ParsersTest {
  @ParameterizedTest
  @CsvSource({"250ms,250", "30s,30000", "5m,300000", "1h,3600000", "2d,172800000", "' 7 s ',7000"})
  void durationsCarryAUnit(String text, long millis) {
    assertThat(Parsers.duration(Duration.ZERO).parse(text)).isEqualTo(Duration.ofMillis(millis));
  }

  @ParameterizedTest
  @CsvSource({"30", "5 minutes", "-1s", "1.5s", "''"})
  void durationsWithoutAKnownUnitAreRefused(String text) {
    assertThatThrownBy(() -> Parsers.duration(Duration.ZERO).parse(text))
        .hasMessage("must be a duration with a unit, like 500ms, 30s, 5m, 1h or 1d");
  }

  @Test
  void durationHasAFloor() {
    assertThatThrownBy(() -> Parsers.duration(Duration.ofSeconds(1)).parse("10ms")).hasMessage("must be at least 1000ms");
  }

  @ParameterizedTest
  @CsvSource({"true,true", "on,true", "YES,true", "false,false", "off,false", "no,false"})
  void booleans(String text, boolean value) {
    assertThat(Parsers.bool().parse(text)).isEqualTo(value);
  }

  @Test
  void booleanRefusesOtherWords() {
    assertThatThrownBy(() -> Parsers.bool().parse("maybe")).hasMessage("must be true or false");
  }

  @Test
  void editDistanceCountsSingleEdits() {
    assertThat(SettingsLoader.editDistance("listen.port", "listen.prot")).isEqualTo(2);
    assertThat(SettingsLoader.editDistance("upstream.url", "upstream.url")).isZero();
    assertThat(SettingsLoader.editDistance("", "abc")).isEqualTo(3);
  }
}
