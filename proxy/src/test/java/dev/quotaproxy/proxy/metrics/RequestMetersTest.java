package dev.quotaproxy.proxy.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.proxy.route.OciOperation;
import dev.quotaproxy.proxy.quota.RefusalReason;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class RequestMetersTest {
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final RequestMeters meters = new RequestMeters(registry);

  @Test
  void countsRequestsByOperationStatusAndOutcome() {
    meters.record(OciOperation.BLOB_GET, 200, Outcome.OK, 0, 1000, TimeUnit.MILLISECONDS.toNanos(12));
    meters.record(OciOperation.BLOB_GET, 200, Outcome.OK, 0, 500, TimeUnit.MILLISECONDS.toNanos(30));
    meters.record(OciOperation.BLOB_GET, 404, Outcome.OK, 0, 80, TimeUnit.MILLISECONDS.toNanos(2));
    meters.record(OciOperation.UPLOAD_COMPLETE, 403, Outcome.REFUSED, 0, 120, TimeUnit.MILLISECONDS.toNanos(1));

    assertThat(count("BLOB_GET", "200", "ok")).isEqualTo(2);
    assertThat(count("BLOB_GET", "404", "ok")).isEqualTo(1);
    assertThat(count("UPLOAD_COMPLETE", "403", "refused")).isEqualTo(1);
    assertThat(registry.get(RequestMeters.SENT).tag("operation", "BLOB_GET").counter().count()).isEqualTo(1580);
    assertThat(registry.get(RequestMeters.DURATION).tag("operation", "BLOB_GET").tag("outcome", "ok").timer().count()).isEqualTo(3);
    assertThat(registry.get(RequestMeters.DURATION).tag("operation", "BLOB_GET").tag("outcome", "ok").timer()
        .totalTime(TimeUnit.MILLISECONDS)).isEqualTo(44);
  }

  @Test
  void aRepeatedLabelSetReusesItsMeters() {
    meters.record(OciOperation.MANIFEST_GET, 200, Outcome.OK, 0, 10, 1_000);
    int after = registry.getMeters().size();
    for (int i = 0; i < 1000; i++) {
      meters.record(OciOperation.MANIFEST_GET, 200, Outcome.OK, 0, 10, 1_000);
    }
    assertThat(registry.getMeters()).hasSize(after);
    assertThat(count("MANIFEST_GET", "200", "ok")).isEqualTo(1001);
  }

  @Test
  void aStatusOutsideHttpCountsAsNoResponse() {
    meters.record(OciOperation.BLOB_GET, 0, Outcome.ABORTED, 0, 0, 1);
    meters.record(OciOperation.BLOB_GET, 1000, Outcome.ABORTED, 0, 0, 1);

    assertThat(count("BLOB_GET", "0", "aborted")).isEqualTo(2);
  }

  @Test
  void countsBodyBytesPerOperation() {
    meters.record(OciOperation.UPLOAD_CHUNK, 202, Outcome.OK, 4096, 0, 1);
    meters.record(OciOperation.UPLOAD_CHUNK, 202, Outcome.OK, 1024, 0, 1);

    assertThat(registry.get(RequestMeters.RECEIVED).tag("operation", "UPLOAD_CHUNK").counter().count()).isEqualTo(5120);
    assertThat(registry.get(RequestMeters.SENT).tag("operation", "UPLOAD_CHUNK").counter().count()).isZero();
  }

  @Test
  void countsRejectionsByReason() {
    meters.rejected(OciOperation.UPLOAD_START, RefusalReason.READ_ONLY);
    meters.rejected(OciOperation.UPLOAD_START, RefusalReason.READ_ONLY);
    meters.rejected(OciOperation.BLOB_GET, RefusalReason.EGRESS_LIMIT);

    assertThat(registry.get(RequestMeters.REJECTIONS).tag("operation", "UPLOAD_START").tag("reason", "read_only").counter().count())
        .isEqualTo(2);
    assertThat(registry.get(RequestMeters.REJECTIONS).tag("reason", "egress_limit").counter().count()).isEqualTo(1);
  }

  private double count(String operation, String status, String outcome) {
    return registry.get(RequestMeters.REQUESTS).tag("operation", operation).tag("status", status).tag("outcome", outcome)
        .counter().count();
  }
}
