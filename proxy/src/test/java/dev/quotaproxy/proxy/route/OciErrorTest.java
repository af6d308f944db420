package dev.quotaproxy.proxy.route;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import java.util.Map;
import org.junit.jupiter.api.Test;

class OciErrorTest {
  @Test
  void bodyIsTheDistributionSpecErrorForm() {
    JsonObject body = new JsonObject(OciError.badGateway("upstream registry http://r:5000 is unreachable").body());

    assertThat(body).isEqualTo(new JsonObject(
        "{\"errors\":[{\"code\":\"UNAVAILABLE\",\"message\":\"upstream registry http://r:5000 is unreachable\"}]}"));
  }

  @Test
  void detailIsIncludedWhenGiven() {
    OciError error = new OciError(403, "DENIED", "no", Map.of("scope", "acme", "limit", 10), 0);

    assertThat(new JsonObject(error.body()).getJsonArray("errors").getJsonObject(0).getJsonObject("detail"))
        .isEqualTo(new JsonObject().put("scope", "acme").put("limit", 10));
  }

  @Test
  void statusesOfTheProxysOwnFailures() {
    assertThat(OciError.badGateway("x").status()).isEqualTo(502);
    assertThat(OciError.gatewayTimeout("x").status()).isEqualTo(504);
    assertThat(OciError.unavailable("x", 3)).extracting(OciError::status, OciError::retryAfterSeconds).containsExactly(503, 3L);
  }
}
