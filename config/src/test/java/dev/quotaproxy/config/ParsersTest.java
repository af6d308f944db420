package dev.quotaproxy.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
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
    assertThat(SettingProblems.editDistance("listen.port", "listen.prot")).isEqualTo(2);
    assertThat(SettingProblems.editDistance("upstream.url", "upstream.url")).isZero();
    assertThat(SettingProblems.editDistance("", "abc")).isEqualTo(3);
  }

  @Test
  void wholeSecondsKeepsTheFloorAndRefusesFractions() {
    assertThat(Parsers.wholeSeconds(Duration.ofMinutes(1)).parse("1d")).isEqualTo(Duration.ofDays(1));
    assertThat(Parsers.wholeSeconds(Duration.ofMinutes(1)).parse("90000ms")).isEqualTo(Duration.ofSeconds(90));
    assertThatThrownBy(() -> Parsers.wholeSeconds(Duration.ofMinutes(1)).parse("60500ms")).hasMessage("must be a whole number of seconds");
    assertThatThrownBy(() -> Parsers.wholeSeconds(Duration.ofMinutes(1)).parse("59s")).hasMessage("must be at least 60000ms");
  }

  @ParameterizedTest
  @CsvSource({"95%,0.95", "95,0.95", "' 95 % ',0.95", "100%,1.0", "100,1.0", "0.5%,0.005", "99.5,0.995", "1%,0.01"})
  void percentagesAreFractionsOfOne(String text, double fraction) {
    assertThat(Parsers.percent().parse(text)).isEqualTo(fraction);
  }

  @ParameterizedTest
  @CsvSource({"100.1%", "101", "250%"})
  void percentagesOver100AreRefused(String text) {
    assertThatThrownBy(() -> Parsers.percent().parse(text)).hasMessage("must be at most 100%");
  }

  @ParameterizedTest
  @CsvSource({"0%", "0", "-5%", "0.0"})
  void percentagesMustBeMoreThanZero(String text) {
    assertThatThrownBy(() -> Parsers.percent().parse(text)).hasMessage("must be more than 0%");
  }

  @ParameterizedTest
  @CsvSource({"''", "%", "ninety", "95%%", "0.95x", "1e2"})
  void percentagesMustBeNumbers(String text) {
    assertThatThrownBy(() -> Parsers.percent().parse(text)).hasMessage("must be a percentage like 95%");
  }

  @ParameterizedTest
  @ValueSource(strings = {"redis://localhost", "redis://localhost:6379", "rediss://redis.internal:6380/",
      "redis://:secret@10.0.0.1:6379/2", "rediss://app:secret@redis.internal", "REDIS://h", "redis://h?client_name=proxy"})
  void redisUrlsAreKeptAsGiven(String text) {
    assertThat(Parsers.redisUrl().parse(text)).isEqualTo(URI.create(text));
  }

  @Test
  void redisUrlsAreTrimmed() {
    assertThat(Parsers.redisUrl().parse(" redis://h:1 ")).isEqualTo(URI.create("redis://h:1"));
  }

  @Test
  void redisUrlRefusalsSayWhatIsExpected() {
    assertThatThrownBy(() -> Parsers.redisUrl().parse("http://h:6379")).hasMessage("must start with redis:// or rediss:// (TLS)");
    assertThatThrownBy(() -> Parsers.redisUrl().parse("localhost:6379")).hasMessage("must start with redis:// or rediss:// (TLS)");
    assertThatThrownBy(() -> Parsers.redisUrl().parse("redis:///0")).hasMessage("must name a host, like redis://redis.internal:6379");
    assertThatThrownBy(() -> Parsers.redisUrl().parse("redis://h/db"))
        .hasMessage("may have only a database number after the host, like redis://redis.internal:6379/0");
    assertThatThrownBy(() -> Parsers.redisUrl().parse("redis://h/0/1"))
        .hasMessage("may have only a database number after the host, like redis://redis.internal:6379/0");
    assertThatThrownBy(() -> Parsers.redisUrl().parse("redis://h#x"))
        .hasMessage("may have only a database number after the host, like redis://redis.internal:6379/0");
    assertThatThrownBy(() -> Parsers.redisUrl().parse("redis://h :1")).hasMessageStartingWith("is not a URL: ");
  }

  @ParameterizedTest
  @ValueSource(strings = {"acme", "acme/team/app", "a", "0", "my.org/app", "a_b", "a__b", "a-b", "a---b", "a.b-c_d__e/f0"})
  void repositoryNamesFollowTheDistributionGrammar(String name) {
    assertThat(Parsers.repositoryName().parse(name)).isEqualTo(name);
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "Acme", "acme/", "/acme", "acme//app", "-acme", "acme-", "a..b", "a___b", "a.-b", "a b", "acme/team:1"})
  void repositoryNamesOutsideTheGrammarAreRefused(String name) {
    assertThatThrownBy(() -> Parsers.repositoryName().parse(name)).hasMessage("must be a repository name like acme or acme/team/app:"
        + " lowercase letters and digits, with '.', '_', '__' or '-' only between them, components joined by single '/'");
  }

  @Test
  void repositoryNamesHaveAtMost255Characters() {
    String longest = "a/".repeat(127) + "b";
    assertThat(Parsers.repositoryName().parse(longest)).hasSize(255);
    assertThatThrownBy(() -> Parsers.repositoryName().parse(longest + "c")).hasMessage("must be at most 255 characters");
  }
}
