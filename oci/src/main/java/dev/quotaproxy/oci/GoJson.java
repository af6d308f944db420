package dev.quotaproxy.oci;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Reads a manifest's JSON the way the registry (Go's {@code encoding/json}) reads it into its structs,
 * so that what the proxy counts is what the registry stores. Go matches an object's keys to fields
 * case-insensitively, with Unicode folding ({@code "LAYERS"}, {@code "Layers"} and {@code "layerſ"} are
 * all {@code layers}), and of keys that match one field the last one wins; a plain JSON reader sees none of
 * that, and a manifest could hide references from it. Here every key that folds to a field a manifest or
 * descriptor has is renamed to that field's name, and two keys of one object that fold alike are either
 * refused ({@link Mode#STRICT}, for pushes the proxy judges) or resolved as Go does, the last winning
 * ({@link Mode#AS_GO_DOES}, for manifests a registry already holds). Pure.
 */
public final class GoJson {
  /** The fields of manifests and descriptors the registry reads, by folded name. */
  private static final Map<String, String> FIELDS = Set.of(
      "schemaVersion", "mediaType", "artifactType", "config", "layers", "blobs", "manifests", "subject",
      "annotations", "digest", "size", "urls", "platform", "data")
      .stream().collect(Collectors.toUnmodifiableMap(GoJson::fold, Function.identity()));
  /** Maps whose keys are data, not fields: their case is their own. */
  private static final Set<String> FREE_FORM = Set.of("annotations", "labels");

  private static final JsonFactory JSON = JsonFactory.builder().build();

  public enum Mode { STRICT, AS_GO_DOES }

  /** The body is not one JSON value, or (strict) an object has two keys the registry would read as one. */
  public static final class InvalidJsonException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    InvalidJsonException(String message) {
      super(message, null, false, false);
    }
  }

  private GoJson() {}

  /** The value of the body: a {@code Map<String, Object>} (in the body's key order), a {@code List<Object>}, String, Number, Boolean or null. */
  public static Object decode(byte[] body, Mode mode) {
    try (JsonParser parser = JSON.createParser(body)) {
      JsonToken first = parser.nextToken();
      if (first == null) {
        throw new InvalidJsonException("manifest is not valid JSON");
      }
      Object value = value(parser, first, mode, false);
      if (parser.nextToken() != null) {
        throw new InvalidJsonException("manifest has more than one JSON value");
      }
      return value;
    } catch (IOException e) {
      throw new InvalidJsonException("manifest is not valid JSON");
    }
  }

  /** Go's case folding of a key, close enough for field names: {@code K} (Kelvin) is k, {@code ſ} is s. */
  static String fold(String key) {
    return key.toUpperCase(Locale.ROOT).toLowerCase(Locale.ROOT);
  }

  private static Object value(JsonParser parser, JsonToken token, Mode mode, boolean freeForm) throws IOException {
    switch (token) {
      case START_OBJECT :
        return object(parser, mode, freeForm);
      case START_ARRAY : {
        List<Object> array = new ArrayList<>();
        for (JsonToken next = parser.nextToken(); next != JsonToken.END_ARRAY; next = parser.nextToken()) {
          array.add(value(parser, next, mode, false));
        }
        return array;
      }
      case VALUE_STRING :
        return parser.getText();
      case VALUE_NUMBER_INT :
        BigInteger integer = parser.getBigIntegerValue();
        return integer.bitLength() < Long.SIZE ? (Object) integer.longValue() : integer;
      case VALUE_NUMBER_FLOAT :
        return parser.getDecimalValue();
      case VALUE_TRUE :
        return Boolean.TRUE;
      case VALUE_FALSE :
        return Boolean.FALSE;
      case VALUE_NULL :
        return null;
      default :
        throw new InvalidJsonException("manifest is not valid JSON");
    }
  }

  private static Map<String, Object> object(JsonParser parser, Mode mode, boolean freeForm) throws IOException {
    Map<String, Object> object = new LinkedHashMap<>();
    Map<String, String> seen = new HashMap<>();
    for (JsonToken next = parser.nextToken(); next != JsonToken.END_OBJECT; next = parser.nextToken()) {
      String key = parser.currentName();
      JsonToken valueToken = parser.nextToken();
      String name = freeForm ? key : FIELDS.getOrDefault(fold(key), key);
      Object value = value(parser, valueToken, mode, FREE_FORM.contains(fold(key)));
      String earlier = seen.put(freeForm ? key : fold(key), key);
      if (earlier != null && mode == Mode.STRICT) {
        throw new InvalidJsonException("manifest has the keys \"" + earlier + "\" and \"" + key
            + "\", which the registry reads as one field: give it once");
      }
      // As Go decodes: of keys naming one field, the last one's value stands.
      object.put(name, value);
    }
    return object;
  }
}
