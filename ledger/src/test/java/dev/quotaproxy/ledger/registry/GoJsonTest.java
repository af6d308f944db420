package dev.quotaproxy.ledger.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Manifests read as the registry's Go decoder reads them: keys folded to fields, the last of a field's keys winning. */
class GoJsonTest {

  private static JsonObject read(String json, GoJson.Mode mode) {
    return (JsonObject) GoJson.decode(json.getBytes(StandardCharsets.UTF_8), mode);
  }

  @ParameterizedTest
  @ValueSource(strings = {"layers", "LAYERS", "Layers", "lAyErS", "layer\u017f", "LAYER\u017f"})
  void anyCaseOfAFieldIsThatField(String key) {
    JsonObject manifest = read("{\"" + key + "\":[{\"DIGEST\":\"sha256:aa\",\"Size\":3}]}", GoJson.Mode.STRICT);

    assertThat(manifest.getJsonArray("layers")).hasSize(1);
    assertThat(manifest.getJsonArray("layers").getJsonObject(0).getString("digest")).isEqualTo("sha256:aa");
    assertThat(manifest.getJsonArray("layers").getJsonObject(0).getLong("size")).isEqualTo(3);
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
    JsonObject manifest = read("{\"layers\":[],\"LAYERS\":[{\"digest\":\"sha256:aa\",\"size\":3}]}", GoJson.Mode.AS_GO_DOES);

    assertThat(manifest.getJsonArray("layers")).hasSize(1);
    assertThat(manifest.fieldNames()).containsExactly("layers");
  }

  @Test
  void annotationKeysAreDataAndKeepTheirCase() {
    JsonObject manifest = read("{\"annotations\":{\"Org.Title\":\"a\",\"org.title\":\"b\",\"layers\":\"c\"}}", GoJson.Mode.STRICT);

    assertThat(manifest.getJsonObject("annotations").fieldNames()).containsExactlyInAnyOrder("Org.Title", "org.title", "layers");
  }

  @Test
  void numbersKeepWhetherTheyAreWhole() {
    JsonArray values = (JsonArray) GoJson.decode("[1, 12.0, 1e3, 123456789012345678901234567890]".getBytes(StandardCharsets.UTF_8),
        GoJson.Mode.STRICT);

    assertThat(values.getValue(0)).isEqualTo(1L);
    assertThat(values.getValue(1)).isInstanceOf(BigDecimal.class);
    assertThat(values.getValue(2)).isInstanceOf(BigDecimal.class);
    assertThat(values.getValue(3)).isNotInstanceOf(Long.class);
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "{", "{} {}", "[1,]", "{\"a\" 1}", "nope"})
  void whatIsNotOneJsonValueIsRefused(String body) {
    assertThatThrownBy(() -> GoJson.decode(body.getBytes(StandardCharsets.UTF_8), GoJson.Mode.AS_GO_DOES))
        .isInstanceOf(GoJson.InvalidJsonException.class);
  }
}
