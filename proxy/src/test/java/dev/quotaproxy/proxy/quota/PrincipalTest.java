package dev.quotaproxy.proxy.quota;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PrincipalTest {

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(delimiter = '|', nullValues = "-", textBlock = """
      # user:password as sent          | user
      alice:s3cret                       | alice
      ci-bot:pa:ss:with:colons           | ci-bot
      '  spaced bob  :x'                 | spaced bob
      'robot$acme+pusher:tok'            | robot$acme+pusher
      zoë:pw                             | zoë
      ':nopassworduser'                  | anonymous
      '   :x'                            | anonymous
      no-colon-at-all                    | anonymous
      ''                                 | anonymous
      """)
  void basicGivesTheUser(String credentials, String user) {
    assertThat(Principal.user("Basic " + base64(credentials))).isEqualTo(user);
  }

  @Test
  void schemeIsCaseInsensitiveAndSurroundingSpaceIgnored() {
    assertThat(Principal.user("  basic   " + base64("alice:pw") + "  ")).isEqualTo("alice");
    assertThat(Principal.user("BEARER " + jwt("{\"sub\":\"carol\"}"))).isEqualTo("carol");
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(delimiter = '|', nullValues = "-", textBlock = """
      # payload                                                                   | user
      '{"iss":"registry-token-issuer","sub":"carol","aud":"registry","exp":1900000000,"access":[{"type":"repository","name":"acme/app","actions":["push","pull"]}]}' | carol
      '{"sub":"  dave  "}'                                                        | dave
      '{"sub":"svc/team-a"}'                                                      | svc/team-a
      '{"sub":""}'                                                                | anonymous
      '{"sub":42}'                                                                | anonymous
      '{"sub":null}'                                                              | anonymous
      '{"name":"no subject"}'                                                     | anonymous
      '["sub","carol"]'                                                           | anonymous
      'not json'                                                                  | anonymous
      """)
  void bearerGivesTheSubjectOfTheTokenWithoutCheckingItsSignature(String payload, String user) {
    assertThat(Principal.user("Bearer " + jwt(payload))).isEqualTo(user);
  }

  @Test
  void bearerPayloadMayBePaddedOrUnsigned() {
    String payload = Base64.getUrlEncoder().encodeToString("{\"sub\":\"erin\"}".getBytes(StandardCharsets.UTF_8));
    assertThat(payload).endsWith("=");

    assertThat(Principal.user("Bearer eyJhbGciOiJub25lIn0." + payload + ".sig")).isEqualTo("erin");
    assertThat(Principal.user("Bearer eyJhbGciOiJub25lIn0." + payload + ".")).isEqualTo("erin");
    assertThat(Principal.user("Bearer eyJhbGciOiJub25lIn0." + payload)).isEqualTo("erin");
  }

  @ParameterizedTest(name = "[{0}]")
  @CsvSource(delimiter = '|', nullValues = "-", textBlock = """
      -
      ''
      '   '
      Basic
      'Basic '
      Basic !!!not-base64!!!
      Bearer
      Bearer opaque-token-without-dots
      Bearer a.%%%.c
      Bearer a.b.c
      Digest username="alice", realm="registry"
      Negotiate YIIGhgYJKoZIhvcSAQICAQBuggZ1MIIGcaADAgEFoQMCAQ6iBwMFACAAAACjggS
      AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request
      alice:pw
      """)
  void anythingElseIsAnonymous(String header) {
    assertThat(Principal.user(header)).isEqualTo(Principal.ANONYMOUS);
  }

  @Test
  void encryptedTokensHaveNoReadableSubject() {
    // A JWE: header.encryptedKey.iv.ciphertext.tag; its second part is not a JSON payload.
    String jwe = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZKTyKOMTYUmKoTCVJRgckCL9kiMT03JGe."
        + "48V1_ALb6US04U3b.5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6ji.XFBoMYUZodetZdvTiFvSkQ";

    assertThat(Principal.user("Bearer " + jwe)).isEqualTo(Principal.ANONYMOUS);
  }

  @Test
  void longNamesAreCappedWithoutSplittingACharacter() {
    String longName = "u".repeat(200);
    assertThat(Principal.user("Basic " + base64(longName + ":pw"))).isEqualTo("u".repeat(Principal.MAX_NAME_LENGTH));

    // 127 letters then emoji (two chars each): the cap counts characters as people see them.
    String withEmoji = "a".repeat(127) + "\uD83D\uDE00\uD83D\uDE00";
    String capped = Principal.user("Bearer " + jwt("{\"sub\":\"" + withEmoji + "\"}"));
    assertThat(capped).isEqualTo("a".repeat(127) + "\uD83D\uDE00");
    assertThat(capped.codePointCount(0, capped.length())).isEqualTo(Principal.MAX_NAME_LENGTH);
  }

  @Test
  void controlCharactersAreDroppedSoTheyCannotForgeLogLines() {
    assertThat(Principal.user("Basic " + base64("mallory\r\nINFO admin logged in:pw"))).isEqualTo("malloryINFO admin logged in");
    assertThat(Principal.user("Bearer " + jwt("{\"sub\":\"\\u0000\\u001b[31m\"}"))).isEqualTo("[31m");
    assertThat(Principal.user("Bearer " + jwt("{\"sub\":\"\\n\\t\"}"))).isEqualTo(Principal.ANONYMOUS);
  }

  private static String base64(String text) {
    return Base64.getEncoder().encodeToString(text.getBytes(StandardCharsets.UTF_8));
  }

  /** An unsigned-looking JWT: the header and signature are never read. */
  private static String jwt(String payload) {
    Base64.Encoder url = Base64.getUrlEncoder().withoutPadding();
    return url.encodeToString("{\"alg\":\"RS256\",\"typ\":\"JWT\"}".getBytes(StandardCharsets.UTF_8))
        + "." + url.encodeToString(payload.getBytes(StandardCharsets.UTF_8))
        + ".c2lnbmF0dXJlLW5vdC1jaGVja2Vk";
  }
}
