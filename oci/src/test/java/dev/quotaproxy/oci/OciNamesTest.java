package dev.quotaproxy.oci;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The hand-written checks against the grammars of distribution 2.8 as regular expressions, on many strings. */
class OciNamesTest {
  private static final Pattern COMPONENT = Pattern.compile("[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*");
  private static final Pattern DOMAIN = Pattern.compile(
      "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?");
  private static final Pattern TAG = Pattern.compile("[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}");
  private static final Pattern DIGEST = Pattern.compile("[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+");
  /** Characters the grammars treat differently, weighted towards the separators. */
  private static final String ALPHABET = "ab09AZ._-__--+:/=%é ";

  @Test
  void examples() {
    assertThat(OciNames.isRepositoryName("acme/team/app")).isTrue();
    assertThat(OciNames.isRepositoryName("a__b/c-----d/e.f")).isTrue();
    assertThat(OciNames.isRepositoryName("registry.example.com:5000/app")).isTrue();
    assertThat(OciNames.isRepositoryName("Acme/app")).as("a host as the first of several").isTrue();
    assertThat(OciNames.isRepositoryName("Acme")).as("a host alone is not a name").isFalse();
    assertThat(OciNames.isRepositoryName("acme/Team")).isFalse();
    assertThat(OciNames.isRepositoryName("a___b")).isFalse();
    assertThat(OciNames.isRepositoryName("acme//app")).isFalse();
    assertThat(OciNames.isRepositoryName("acme/app/")).isFalse();
    assertThat(OciNames.isRepositoryName("a".repeat(256))).isFalse();
    assertThat(OciNames.isTag("_latest.1-x")).isTrue();
    assertThat(OciNames.isTag(".latest")).isFalse();
    assertThat(OciNames.isTag("a".repeat(129))).isFalse();
    assertThat(OciNames.isDigest("sha256:" + "ab".repeat(32))).isTrue();
    assertThat(OciNames.isDigest("sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564=")).isTrue();
    assertThat(OciNames.isDigest("sha256:")).isFalse();
    assertThat(OciNames.isDigest("sha256.:ab")).isFalse();
    assertThat(OciNames.isReference("1.0")).isTrue();
  }

  @Test
  void agreeWithTheGrammarsOnRandomStrings() {
    Random random = new Random(7);
    for (int n = 0; n < 200_000; n++) {
      String text = randomText(random);
      assertThat(OciNames.isTag(text)).as("tag %s", text).isEqualTo(TAG.matcher(text).matches());
      assertThat(OciNames.isDigest(text)).as("digest %s", text).isEqualTo(DIGEST.matcher(text).matches());
      assertThat(OciNames.isRepositoryName(text)).as("name %s", text).isEqualTo(isRepositoryName(text));
    }
  }

  /** The name rule as written before, with the regular expressions. */
  private static boolean isRepositoryName(String name) {
    if (name.isEmpty() || name.length() > OciNames.MAX_NAME_LENGTH) {
      return false;
    }
    String[] components = name.split("/", -1);
    for (int i = 0; i < components.length; i++) {
      boolean host = i == 0 && components.length > 1 && DOMAIN.matcher(components[i]).matches();
      if (!host && !COMPONENT.matcher(components[i]).matches()) {
        return false;
      }
    }
    return true;
  }

  private static String randomText(Random random) {
    int length = random.nextInt(12);
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < length; i++) {
      text.append(ALPHABET.charAt(random.nextInt(ALPHABET.length())));
    }
    return text.toString();
  }
}
