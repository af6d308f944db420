package dev.quotaproxy.proxy.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The access log's outcomes, as ProxyExchange writes them, fold into the label's few values. */
class OutcomeTest {
  @Test
  void foldsEveryOutcomeTheExchangeWrites() {
    assertThat(Outcome.of("ok")).isEqualTo(Outcome.OK);
    assertThat(Outcome.of("refused DENIED")).isEqualTo(Outcome.REFUSED);
    assertThat(Outcome.of("refused DENIED mid-body")).isEqualTo(Outcome.REFUSED);
    assertThat(Outcome.of("refused TOOMANYREQUESTS")).isEqualTo(Outcome.REFUSED);
    assertThat(Outcome.of("upstream error")).isEqualTo(Outcome.UPSTREAM_ERROR);
    assertThat(Outcome.of("upstream timeout")).isEqualTo(Outcome.UPSTREAM_TIMEOUT);
    assertThat(Outcome.of("aborted: client closed the connection")).isEqualTo(Outcome.ABORTED);
    assertThat(Outcome.of("aborted: transfer stalled for 60000ms")).isEqualTo(Outcome.ABORTED);
  }

  @Test
  void labelsAreLowerCase() {
    assertThat(Outcome.UPSTREAM_TIMEOUT.label()).isEqualTo("upstream_timeout");
  }
}
