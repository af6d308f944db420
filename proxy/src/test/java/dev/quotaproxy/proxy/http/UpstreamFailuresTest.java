package dev.quotaproxy.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.proxy.route.OciError;
import io.netty.channel.ConnectTimeoutException;
import io.vertx.core.VertxException;
import io.vertx.core.http.ConnectionPoolTooBusyException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.UnknownHostException;
import java.util.stream.Stream;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class UpstreamFailuresTest {

  static Stream<Arguments> failures() {
    return Stream.of(
        Arguments.of(new ConnectionPoolTooBusyException("queue full"), 503, 1L,
            "too many requests waiting for a connection to the upstream registry"),
        Arguments.of(new ConnectTimeoutException("connection timed out: registry/10.0.0.1:5000"), 504, 0L,
            "the upstream registry did not accept a connection within 2500ms"),
        Arguments.of(new ConnectException("Connection refused"), 502, 0L, "the upstream registry is unreachable"),
        Arguments.of(new UnknownHostException("registry"), 502, 0L, "the upstream registry is unreachable"),
        Arguments.of(new SSLHandshakeException("PKIX path building failed"), 502, 0L, "TLS with the upstream registry failed"),
        // A reset, a close before the answer, garbage instead of HTTP: the registry failed, whatever its words.
        Arguments.of(new IOException("Connection reset by peer"), 502, 0L, "the upstream registry failed to answer"),
        Arguments.of(VertxException.noStackTrace("Connection was closed"), 502, 0L, "the upstream registry failed to answer"));
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @MethodSource("failures")
  void eachKindOfFailureGetsItsStatusAndAMessageThatKeepsTheRegistryPrivate(Throwable cause, int status, long retryAfter,
      String message) {
    OciError error = UpstreamFailures.answerFor(cause, 2500);

    assertThat(error.status()).isEqualTo(status);
    assertThat(error.code()).isEqualTo("UNAVAILABLE");
    assertThat(error.message()).isEqualTo(message);
    assertThat(error.retryAfterSeconds()).isEqualTo(retryAfter);
  }

  @Test
  void aRegistryThatTookTheRequestAndSaidNothingIsAGatewayTimeout() {
    OciError error = UpstreamFailures.noAnswerWithin(700);

    assertThat(error.status()).isEqualTo(504);
    assertThat(error.code()).isEqualTo("UNAVAILABLE");
    assertThat(error.message()).isEqualTo("the upstream registry did not answer within 700ms");
  }

  @Test
  void describesAFailureWithItsRootCauseWhereThatSaysMore() {
    Throwable root = new IllegalStateException("PKIX path building failed");
    Throwable failure = new SSLHandshakeException("handshake failed");
    failure.initCause(new RuntimeException("wrapped", root));

    assertThat(UpstreamFailures.describe(failure)).isEqualTo("handshake failed: PKIX path building failed");
  }

  @Test
  void describesAFailureOnceWhenItsMessageHasTheRootCauseAlready() {
    Throwable failure = new RuntimeException("java.io.IOException: Connection reset", new IOException("Connection reset"));

    assertThat(UpstreamFailures.describe(failure)).isEqualTo("java.io.IOException: Connection reset");
  }

  @Test
  void describesAFailureWithoutAMessageByItsKind() {
    assertThat(UpstreamFailures.describe(new IllegalStateException())).isEqualTo("IllegalStateException");
    assertThat(UpstreamFailures.describe(new IllegalStateException(new IOException()))).isEqualTo("java.io.IOException");
  }
}
