package dev.quotaproxy.proxy.quota;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.config.Limits;
import dev.quotaproxy.config.SystemSettings;
import dev.quotaproxy.proxy.route.OciError;
import dev.quotaproxy.metering.QuotaStore.Denial;
import dev.quotaproxy.metering.QuotaStore.EgressCheck;
import dev.quotaproxy.metering.QuotaStore.ScopeState;
import dev.quotaproxy.metering.ScopeCounts;
import io.vertx.core.json.JsonObject;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class QuotaErrorsTest {
  private static final long MIB = 1L << 20;
  private static final long GIB = 1L << 30;
  private static final long TIB = 1L << 40;

  @Test
  void aSizeThatRoundsToTheLimitIsGivenInBytes() {
    OciError error = QuotaErrors.storageExceeded(new Denial("acme", 10_485_760 - 16_384, 16_384, 10_485_760, 16_384));

    assertThat(error.message())
        .isEqualTo(
            "quota exceeded: pushing 16.0 KiB to acme would raise its storage to 10.0 MiB (10502144 bytes), over its 10.0 MiB limit");
  }

  @Test
  void storageHardLimitSaysWhatThePushWouldHaveRaisedTheScopeTo() {
    OciError error = QuotaErrors.storageExceeded(new Denial("acme/team", 9 * GIB + 900 * MIB, 400 * MIB, 10 * GIB, 112 * MIB));

    assertThat(error.status()).isEqualTo(403);
    assertThat(error.code()).isEqualTo("DENIED");
    assertThat(error.message())
        .isEqualTo("quota exceeded: pushing 112.0 MiB to acme/team would raise its storage to 10.4 GiB, over its 10.0 GiB limit");
    assertThat(error.retryAfterSeconds()).isZero();
    assertThat(detail(error)).isEqualTo(new JsonObject()
        .put("scope", "acme/team")
        .put("resource", "storage_bytes")
        .put("usage", 9 * GIB + 900 * MIB + 400 * MIB)
        .put("limit", 10 * GIB)
        .put("requested", 112 * MIB));
  }

  @Test
  void storageOfAScopeAlreadyOverItsLimitAfterTheLimitWasLowered() {
    OciError error = QuotaErrors.storageExceeded(new Denial("acme/team", 10 * GIB + 300 * MIB, 100 * MIB, 10 * GIB, 12 * MIB));

    assertThat(error.message())
        .isEqualTo("quota exceeded: pushing 12.0 MiB to acme/team would raise its storage to 10.4 GiB, over its 10.0 GiB limit");
  }

  @Test
  void uploadStartRefusedBecauseTheScopeIsAlreadyFull() {
    OciError error = QuotaErrors.storageExceeded(new Denial("acme/team", 10 * GIB + 150 * MIB, 50 * MIB, 10 * GIB, 0));

    assertThat(error).extracting(OciError::status, OciError::code).containsExactly(403, "DENIED");
    assertThat(error.message()).isEqualTo("quota exceeded: acme/team is at 10.2 GiB of its 10.0 GiB storage limit");
    assertThat(detail(error).getLong("usage")).isEqualTo(10 * GIB + 200 * MIB);
    assertThat(detail(error).getLong("requested")).isZero();
  }

  @Test
  void registryReadOnlyByWriteRatio() {
    long usage = (long) Math.ceil(0.96 * TIB);

    OciError error = QuotaErrors.registryReadOnly(usage, new SystemSettings(TIB, 0.95, false, false, 30));

    assertThat(error).extracting(OciError::status, OciError::code, OciError::retryAfterSeconds).containsExactly(403, "DENIED", 0L);
    assertThat(error.message()).isEqualTo(
        "registry is read-only: storage is at 96% of 1.0 TiB, at or over the 95% write ratio; delete images to free space");
    assertThat(detail(error)).isEqualTo(new JsonObject()
        .put("reason", "write_ratio")
        .put("resource", "storage_bytes")
        .put("usage", usage)
        .put("limit", TIB)
        .put("write_ratio", 0.95));
  }

  @Test
  void readOnlyShowsATenthOfAPercentWhenItMatters() {
    OciError error = QuotaErrors.registryReadOnly(958 * GIB, new SystemSettings(1000 * GIB, 0.955, false, false, 30));

    assertThat(error.message()).isEqualTo(
        "registry is read-only: storage is at 95.8% of 1000.0 GiB, at or over the 95.5% write ratio; delete images to free space");
  }

  @Test
  void registryReadOnlyForcedByAnAdministrator() {
    OciError error = QuotaErrors.registryReadOnly(10 * GIB, new SystemSettings(TIB, 0.95, true, false, 30));

    assertThat(error).extracting(OciError::status, OciError::code).containsExactly(403, "DENIED");
    assertThat(error.message()).isEqualTo("registry is read-only: set by an administrator; pushes are refused until that is lifted");
    assertThat(detail(error)).isEqualTo(new JsonObject().put("reason", "forced"));
  }

  @Test
  void forcedReadOnlyWinsOverTheWriteRatio() {
    assertThat(QuotaErrors.registryReadOnly(TIB, new SystemSettings(TIB, 0.9, true, false, 30)).message()).contains("administrator");
  }

  @Test
  void readOnlyWithoutARegistryLimitStillAnswers() {
    assertThat(QuotaErrors.registryReadOnly(3 * GIB, new SystemSettings(-1, 1.0, false, false, 30)).message())
        .isEqualTo("registry is read-only: storage is at 3.0 GiB; delete images to free space");
  }

  @Test
  void egressLimitIsATooManyRequestsWithRetryAfterTheWindowEnd() {
    OciError error = QuotaErrors.egressExceeded(new EgressCheck(false, "acme", 10 * GIB + 200 * MIB, 10 * GIB, 86_400, 11_520));

    assertThat(error).extracting(OciError::status, OciError::code, OciError::retryAfterSeconds)
        .containsExactly(429, "TOOMANYREQUESTS", 11_520L);
    assertThat(error.message()).isEqualTo(
        "egress quota exceeded: acme pulled 10.2 GiB in the current 1d window, over its 10.0 GiB limit; retry in 3h 12m");
    assertThat(detail(error)).isEqualTo(new JsonObject()
        .put("scope", "acme")
        .put("resource", "egress_bytes")
        .put("usage", 10 * GIB + 200 * MIB)
        .put("limit", 10 * GIB)
        .put("window_seconds", 86_400L)
        .put("requested", 0L));
  }

  @Test
  void aPullThatWouldPassTheLimitSaysSoWhileTheScopeIsUnderIt() {
    OciError error = QuotaErrors.egressExceeded(new EgressCheck(false, "acme", MIB, 3 * MIB, 3_600, 600, 2 * MIB + 1));

    assertThat(error.message()).isEqualTo(
        "egress quota exceeded: acme pulled 1.0 MiB in the current 1h window, and pulling 2.0 MiB more would pass its 3.0 MiB limit; retry in 10m");
    assertThat(detail(error).getLong("requested")).isEqualTo(2 * MIB + 1);
  }

  @Test
  void egressExactlyAtTheLimitAndAWindowAboutToEnd() {
    OciError error = QuotaErrors.egressExceeded(new EgressCheck(false, "acme/ci", 500 * MIB, 500 * MIB, 3_600, 0));

    assertThat(error.retryAfterSeconds()).isEqualTo(1);
    assertThat(error.message()).isEqualTo(
        "egress quota exceeded: acme/ci pulled 500.0 MiB in the current 1h window, at its 500.0 MiB limit; retry in 1s");
  }

  @Test
  void storeUnavailableFailsPushesClosedWithRetryAfter() {
    OciError error = QuotaErrors.storeUnavailable();

    assertThat(error).extracting(OciError::status, OciError::code, OciError::retryAfterSeconds, OciError::message)
        .containsExactly(503, "UNAVAILABLE", 5L, "quota store unavailable: pushes are refused until it is back; pulls still work");
    assertThat(error.detail()).isEmpty();
  }

  @Test
  void softLimitWarningsForEveryScopeOverItsSoftLimit() {
    List<ScopeState> afterCommit = List.of(
        new ScopeState("acme", (long) Math.ceil(0.91 * 10 * GIB), 0, new Limits(10 * GIB, 9 * GIB, -1, 3600)),
        new ScopeState("acme/team", 8 * GIB + 512 * MIB, 3 * GIB, new Limits(-1, 8 * GIB, -1, 3600)),
        new ScopeState("acme/team/app", 5 * GIB, 0, new Limits(10 * GIB, -1, -1, 3600)),
        new ScopeState("acme/team/lib", 4 * GIB, 0, new Limits(10 * GIB, 4 * GIB, -1, 3600)));

    assertThat(QuotaErrors.softLimitWarnings(afterCommit)).containsExactly(
        "299 - \"acme is at 91% of its 10.0 GiB storage quota\"",
        "299 - \"acme/team is over its 8.0 GiB soft storage quota\"");
  }

  @Test
  void aNewRepositoryOverTheRepositoryLimitIsNamedWithTheCountAndTheLimit() {
    OciError error = QuotaErrors.storageExceeded(new Denial("acme", 10, 0, 10, 1, 0, Denial.REPOSITORIES, "acme/new"));

    assertThat(error).extracting(OciError::status, OciError::code, OciError::message).containsExactly(403, "DENIED",
        "quota exceeded: acme holds 10 repositories, at its limit of 10; the new repository acme/new would make 11");
    assertThat(error.detail()).containsEntry("resource", "repositories").containsEntry("usage", 10L).containsEntry("limit", 10L)
        .containsEntry("requested", 1L).containsEntry("scope", "acme");
  }

  @Test
  void countsInFlightAreNamedApartAndAManifestIsNamedWithItsRepository() {
    assertThat(QuotaErrors.storageExceeded(new Denial("acme/team", 8, 2, 10, 1, 0, Denial.REPOSITORIES, "acme/team/x")).message())
        .isEqualTo("quota exceeded: acme/team holds 8 repositories and 2 more being pushed, at its limit of 10;"
            + " the new repository acme/team/x would make 11");
    assertThat(QuotaErrors.uploadCutOff(new Denial("acme", 1, 0, 1, 1, 0, Denial.MANIFESTS, "acme/app@sha256:abc"), 100).message())
        .isEqualTo("quota exceeded: acme holds 1 manifest, at its limit of 1; the new manifest sha256:abc in acme/app would make 2");
    assertThat(QuotaErrors.storageExceeded(new Denial("acme", 12, 0, 10, 1, 0, Denial.MANIFESTS, "acme/app@sha256:abc")).message())
        .startsWith("quota exceeded: acme holds 12 manifests, over its limit of 10;");
  }

  @Test
  void countsOverTheirSoftLimitWarnAsStorageDoes() {
    Limits limits = new Limits(-1, -1, -1, 3600).withCounts(20, 10, -1, 1);
    List<ScopeState> afterCommit = List.of(
        new ScopeState("acme", 0, 0, limits, new ScopeCounts(11, 0, 1, 0)),
        new ScopeState("acme/app", 0, 0, limits, new ScopeCounts(10, 5, 2, 0)));

    assertThat(QuotaErrors.softLimitWarnings(afterCommit)).containsExactly(
        "299 - \"acme holds 11 repositories, over its soft limit of 10 (hard limit 20)\"",
        "299 - \"acme/app holds 2 manifests, over its soft limit of 1\"");
  }

  @Test
  void reservedBytesDoNotTriggerASoftWarning() {
    ScopeState scope = new ScopeState("acme", 7 * GIB, 2 * GIB, new Limits(10 * GIB, 8 * GIB, -1, 3600));

    assertThat(QuotaErrors.softLimitWarnings(List.of(scope))).isEmpty();
  }

  @Test
  void softWarningPercentIsOfTheHardLimitRoundedDown() {
    ScopeState scope = new ScopeState("acme", 9_771_050_598L, 0, new Limits(10 * GIB, 8 * GIB, -1, 3600));

    assertThat(QuotaErrors.softLimitWarning(scope)).isEqualTo("299 - \"acme is at 90.9% of its 10.0 GiB storage quota\"");
  }

  @Test
  void warningTextIsAQuotedStringWithQuotesAndBackslashesEscaped() {
    assertThat(QuotaErrors.warning("say \"hi\" \\ bye")).isEqualTo("299 - \"say \\\"hi\\\" \\\\ bye\"");
    assertThat(QuotaErrors.WARNING_HEADER).isEqualTo("Warning");
  }

  @Test
  void aMalformedManifestIsTheRegistrysOwn400() {
    assertThat(QuotaErrors.manifestInvalid("layers must be an array"))
        .isEqualTo(new OciError(400, "MANIFEST_INVALID", "layers must be an array", java.util.Map.of(), 0));
  }

  @ParameterizedTest(name = "{0}s -> {1}")
  @CsvSource({
      "1, 1s", "45, 45s", "59, 59s", "60, 1m", "61, 1m 1s", "90, 1m 30s", "3599, 59m 59s", "3600, 1h",
      "3601, 1h 1m", "11520, 3h 12m", "11521, 3h 13m", "86399, 1d", "86400, 1d", "90000, 1d 1h", "90001, 1d 2h",
      "604800, 7d"})
  void waitsAreShownInTheirTwoLargestUnitsRoundedUp(long seconds, String text) {
    assertThat(QuotaErrors.duration(seconds)).isEqualTo(text);
  }

  @ParameterizedTest(name = "{0}s -> {1}")
  @CsvSource({"1, 1s", "90, 90s", "1800, 30m", "3600, 1h", "5400, 90m", "21600, 6h", "86400, 1d", "604800, 7d", "2592000, 30d"})
  void windowsAreShownInTheLargestWholeUnit(long seconds, String text) {
    assertThat(QuotaErrors.window(seconds)).isEqualTo(text);
  }

  @ParameterizedTest(name = "{0}/{1} -> {2}")
  @CsvSource({
      "0, 100, 0%", "1, 3, 33.3%", "2, 3, 66.6%", "95, 100, 95%", "999, 1000, 99.9%", "1000, 1000, 100%",
      "1200, 1000, 120%", "4611686018427387903, 9223372036854775807, 50%"})
  void percentagesAreRoundedDownToATenth(long part, long whole, String text) {
    assertThat(QuotaErrors.percent(part, whole)).isEqualTo(text);
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({"0.95, 95%", "0.9, 90%", "0.955, 95.5%", "1.0, 100%", "0.57, 57%", "0.29, 29%"})
  void writeRatiosReadAsTheyWereSet(double ratio, String text) {
    assertThat(QuotaErrors.percentOfRatio(ratio)).isEqualTo(text);
  }

  private static JsonObject detail(OciError error) {
    return new JsonObject(error.body()).getJsonArray("errors").getJsonObject(0).getJsonObject("detail");
  }
}
