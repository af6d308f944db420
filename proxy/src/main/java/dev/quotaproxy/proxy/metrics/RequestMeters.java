package dev.quotaproxy.proxy.metrics;

import dev.quotaproxy.proxy.route.OciOperation;
import dev.quotaproxy.proxy.quota.RefusalReason;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The per-request meters, recorded once per exchange when it ends. Labels are only the operation,
 * the status code, the outcome and the refusal reason: a few hundred series at most, never one per
 * repository or user. Meters are looked up in arrays indexed by those labels, so a request costs a
 * few array reads and atomic adds, never a registry lookup or a new meter.
 *
 * <p>The arrays are filled lazily from several event loops without locks: two loops racing on the
 * same slot both register the same meter id, and the registry hands both the same meter.
 */
public final class RequestMeters {
  static final String REQUESTS = "quota_proxy.requests";
  static final String DURATION = "quota_proxy.request.duration";
  static final String RECEIVED = "quota_proxy.received.bytes";
  static final String SENT = "quota_proxy.sent.bytes";
  static final String REJECTIONS = "quota_proxy.rejections";
  static final String SPLICED = "quota_proxy.spliced.bytes";
  /** Status 0 is "no response sent"; anything past 599 is not HTTP and is counted as 0 too. */
  private static final int STATUSES = 600;
  /**
   * Histogram buckets from a manifest HEAD (milliseconds) to a multi-gigabyte blob (minutes). Fixed
   * buckets, rather than Micrometer's percentile histogram, keep each histogram to 16 series.
   */
  private static final Duration[] BUCKETS = {
      Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100),
      Duration.ofMillis(250), Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofMillis(2500), Duration.ofSeconds(5),
      Duration.ofSeconds(10), Duration.ofSeconds(30), Duration.ofMinutes(1), Duration.ofMinutes(2), Duration.ofMinutes(5)};

  private final MeterRegistry registry;
  private final PerOperation[] operations;
  private final Counter spliced;

  RequestMeters(MeterRegistry registry) {
    this.registry = registry;
    OciOperation[] all = OciOperation.values();
    this.operations = new PerOperation[all.length];
    for (OciOperation operation : all) {
      operations[operation.ordinal()] = new PerOperation(operation);
    }
    this.spliced = Counter.builder(SPLICED).baseUnit("bytes")
        .description("Response body bytes moved from the upstream socket to the client socket by splice(2), never copied into the proxy")
        .register(registry);
  }

  /**
   * One finished exchange: what the client got ({@code status} 0 for nothing), how it ended, body
   * bytes each way and how long it took.
   */
  public void record(OciOperation operation, int status, Outcome outcome, long bytesIn, long bytesOut, long nanos) {
    PerOperation meters = operations[operation.ordinal()];
    meters.requests(outcome, status).increment();
    meters.duration(outcome).record(nanos, TimeUnit.NANOSECONDS);
    if (bytesIn > 0) {
      meters.received.increment(bytesIn);
    }
    if (bytesOut > 0) {
      meters.sent.increment(bytesOut);
    }
  }

  /** Bytes of a finished exchange's body that were spliced; they are in its sent bytes too. */
  public void spliced(long bytes) {
    spliced.increment(bytes);
  }

  /** A request the proxy refused on its own, and why. */
  public void rejected(OciOperation operation, RefusalReason reason) {
    operations[operation.ordinal()].rejections(reason).increment();
  }

  private final class PerOperation {
    final String operation;
    final Counter received;
    final Counter sent;
    final Counter[][] requests = new Counter[Outcome.values().length][];
    final Timer[] durations = new Timer[Outcome.values().length];
    final Counter[] rejections = new Counter[RefusalReason.values().length];

    PerOperation(OciOperation operation) {
      this.operation = operation.name();
      this.received = Counter.builder(RECEIVED).baseUnit("bytes").tag("operation", this.operation)
          .description("Request body bytes received from clients").register(registry);
      this.sent = Counter.builder(SENT).baseUnit("bytes").tag("operation", this.operation)
          .description("Response body bytes sent to clients").register(registry);
    }

    Counter requests(Outcome outcome, int status) {
      int code = status > 0 && status < STATUSES ? status : 0;
      Counter[] byStatus = requests[outcome.ordinal()];
      if (byStatus == null) {
        byStatus = new Counter[STATUSES];
        requests[outcome.ordinal()] = byStatus;
      }
      Counter counter = byStatus[code];
      if (counter == null) {
        counter = Counter.builder(REQUESTS).tag("operation", operation).tag("status", Integer.toString(code))
            .tag("outcome", outcome.label()).description("Requests through the proxy, by OCI operation, status sent and outcome")
            .register(registry);
        byStatus[code] = counter;
      }
      return counter;
    }

    Timer duration(Outcome outcome) {
      Timer timer = durations[outcome.ordinal()];
      if (timer == null) {
        timer = Timer.builder(DURATION).tag("operation", operation).tag("outcome", outcome.label())
            .serviceLevelObjectives(BUCKETS).description("Time from a request's arrival to the end of its exchange")
            .register(registry);
        durations[outcome.ordinal()] = timer;
      }
      return timer;
    }

    Counter rejections(RefusalReason reason) {
      Counter counter = rejections[reason.ordinal()];
      if (counter == null) {
        counter = Counter.builder(REJECTIONS).tag("operation", operation).tag("reason", reason.label())
            .description("Requests the proxy refused itself, by reason").register(registry);
        rejections[reason.ordinal()] = counter;
      }
      return counter;
    }
  }
}
