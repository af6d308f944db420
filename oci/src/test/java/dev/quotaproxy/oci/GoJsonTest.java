package dev.quotaproxy.oci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Manifests read as the registry's Go decoder reads them: keys folded to fields, the last of a field's keys winning. */
class GoJsonTest {

  private static Map<String, Object> read(String json, GoJson.Mode mode) {
    return object(GoJson.decode(json.getBytes(StandardCharsets.UTF_8), mode));
  }

  private static List<?> list(Object value) {
    return (List<?>) value;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> object(Object value) {
    return (Map<String, Object>) value;
  }

  @ParameterizedTest
  @ValueSource(strings = {"layers", "LAYERS", "Layers", "lAyErS", "layer\u017f", "LAYER\u017f"})
  void anyCaseOfAFieldIsThatField(String key) {
    Map<String, Object> manifest = read("{\"" + key + "\":[{\"DIGEST\":\"sha256:aa\",\"Size\":3}]}", GoJson.Mode.STRICT);

    assertThat(list(manifest.get("layers"))).hasSize(1);
    assertThat(object(list(manifest.get("layers")).get(0)).get("digest")).isEqualTo("sha256:aa");
    assertThat(object(list(manifest.get("layers")).get(0)).get("size")).isEqualTo(3L);
  }

  @Test
  void theKelvinSignFoldsToK() {
    assertThat(GoJson.fold("\u212a")).isEqualTo("k");
    assertThat(GoJson.fold("\u017f")).isEqualTo("s");
  }

  @Test
  void twoKeysForOneFieldAreRefusedWhenStrict() {
    assertThatThrownBy(() -> read("{\"layers\":[],\"LAYERS\":[{\"digest\":\"sha256:aa\",\"size\":3}]}", GoJson.Mode.STRICT))
        .isInstanceOf(GoJson.InvalidJsonException.class)
        .hasMessage("manifest has the keys \"layers\" and \"LAYERS\", which the registry reads as one field: give it once");
    assertThatThrownBy(() -> read("{\"layers\":[{\"digest\":\"sha256:aa\",\"size\":3,\"size\":4}]}", GoJson.Mode.STRICT))
        .isInstanceOf(GoJson.InvalidJsonException.class);
  }

  @Test
  void theLastKeyOfAFieldWinsAsInGo() {
    Map<String, Object> manifest = read("{\"layers\":[],\"LAYERS\":[{\"digest\":\"sha256:aa\",\"size\":3}]}", GoJson.Mode.AS_GO_DOES);

    assertThat(list(manifest.get("layers"))).hasSize(1);
    assertThat(manifest.keySet()).containsExactly("layers");
  }

  @Test
  void annotationKeysAreDataAndKeepTheirCase() {
    Map<String, Object> manifest = read("{\"annotations\":{\"Org.Title\":\"a\",\"org.title\":\"b\",\"layers\":\"c\"}}", GoJson.Mode.STRICT);

    assertThat(object(manifest.get("annotations")).keySet()).containsExactlyInAnyOrder("Org.Title", "org.title", "layers");
  }

  @Test
  void numbersKeepWhetherTheyAreWhole() {
    List<?> values = (List<?>) GoJson.decode("[1, 12.0, 1e3, 123456789012345678901234567890]".getBytes(StandardCharsets.UTF_8),
        GoJson.Mode.STRICT);

    assertThat(values.get(0)).isEqualTo(1L);
    assertThat(values.get(1)).isInstanceOf(BigDecimal.class);
    assertThat(values.get(2)).isInstanceOf(BigDecimal.class);
    assertThat(values.get(3)).isNotInstanceOf(Long.class);
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "{", "{} {}", "[1,]", "{\"a\" 1}", "nope"})
  void whatIsNotOneJsonValueIsRefused(String body) {
    assertThatThrownBy(() -> GoJson.decode(body.getBytes(StandardCharsets.UTF_8), GoJson.Mode.AS_GO_DOES))
        .isInstanceOf(GoJson.InvalidJsonException.class);
  }
}
