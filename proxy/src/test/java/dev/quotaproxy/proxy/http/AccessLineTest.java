package dev.quotaproxy.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** An access line is one JSON object on one line, whatever the client put in the path or the user. */
class AccessLineTest {

  private static JsonObject line(String repository, String path, String user) {
    StringBuilder out = new StringBuilder();
    AccessLine.append(out, "MANIFEST_GET", repository, "GET", path, user, 200, 0, 246, 3, "ok");
    assertThat(out.toString()).as("one line").doesNotContain("\n", "\r", "\u2028", "\u2029");
    return new JsonObject(out.toString());
  }

  @Test
  void theFieldsComeOutInTheirOrderWithTheirTypes() {
    StringBuilder out = new StringBuilder();
    AccessLine.append(out, "UPLOAD_COMPLETE", "acme/app", "PUT", "/v2/acme/app/blobs/uploads/5b0d", "alice", 201, 10_000_000, 0, 151, "ok");
    assertThat(out.toString()).isEqualTo("{\"op\":\"UPLOAD_COMPLETE\",\"repo\":\"acme/app\",\"method\":\"PUT\","
        + "\"path\":\"/v2/acme/app/blobs/uploads/5b0d\",\"user\":\"alice\",\"status\":201,\"bytes_in\":10000000,\"bytes_out\":0,"
        + "\"ms\":151,\"outcome\":\"ok\"}");
  }

  @Test
  void noRepositoryIsNull() {
    assertThat(line(null, "/v2/", "anonymous").getValue("repo")).isNull();
  }

  @Test
  void quotesBackslashesAndControlCharactersCannotEndAFieldOrForgeALine() {
    String path = "/v2/a\"b\\c\n{\"op\":\"forged\"}\r\t\u0000\u001f\u007f\u2028\u2029é😀";
    JsonObject parsed = line("a/b", path, "eve\"\n");
    assertThat(parsed.getString("path")).isEqualTo(path);
    assertThat(parsed.getString("user")).isEqualTo("eve\"\n");
    assertThat(parsed.getString("op")).isEqualTo("MANIFEST_GET");
    assertThat(parsed.fieldNames()).hasSize(10);
  }

  @Test
  void anyStringComesBackAsItWasSent() {
    Random random = new Random(7);
    for (int round = 0; round < 2_000; round++) {
      StringBuilder text = new StringBuilder();
      int length = random.nextInt(40);
      for (int i = 0; i < length; i++) {
        // Mostly the awkward ranges: controls, ASCII punctuation, separators, surrogate pairs.
        int kind = random.nextInt(4);
        text.append(switch (kind) {
          case 0 -> (char) random.nextInt(0x80);
          case 1 -> (char) (0x2020 + random.nextInt(16));
          case 2 -> "\uD83D\uDE00";
          default -> (char) random.nextInt(0x20);
        });
      }
      assertThat(line("r", text.toString(), text.toString()).getString("path")).isEqualTo(text.toString());
    }
  }
}
