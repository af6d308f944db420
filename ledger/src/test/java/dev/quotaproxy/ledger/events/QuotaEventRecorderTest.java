package dev.quotaproxy.ledger.events;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.config.QuotaEventType;
import dev.quotaproxy.ledger.events.QuotaEventRecorder.Refusal;
import dev.quotaproxy.ledger.events.QuotaEventRecorder.Row;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class QuotaEventRecorderTest {
  private static final Instant T = Instant.parse("2026-12-07T10:15:30Z");

  @Test
  void aStorageRefusalIsQuotaExceededKeyedByItsLedgerEvent() {
    List<Row> rows = QuotaEventRecorder.refusalRows(List.of(
        new Refusal("acme/1-0", T, "acme/app", "alice", "acme", "storage_bytes", 2048, 900, 1000, "storage_limit")), Map.of());

    assertThat(rows).singleElement().satisfies(row -> {
      assertThat(row.type()).isEqualTo(QuotaEventType.QUOTA_EXCEEDED);
      assertThat(row.scope()).isEqualTo("acme");
      assertThat(row.dedupeKey()).isEqualTo("refusal:acme/1-0");
      assertThat(row.data().encode()).isEqualTo("{\"repository\":\"acme/app\",\"user\":\"alice\",\"resource\":\"storage_bytes\","
          + "\"requested\":2048,\"usage\":900,\"limit\":1000,\"reason\":\"storage_limit\"}");
    });
  }

  @Test
  void egressRefusalsOfOneScopeAndWindowShareAKey() {
    Refusal first = new Refusal("eg/1-0", T, "eg/x", "bob", "eg", "egress_bytes", 0, 1_000, 1_000, "egress_limit");
    Refusal later = new Refusal("eg/2-0", T.plusSeconds(600), "eg/x", "bob", "eg", "egress_bytes", 0, 1_000, 1_000, "egress_limit");
    Refusal nextWindow = new Refusal("eg/3-0", T.plusSeconds(3_600), "eg/x", "bob", "eg", "egress_bytes", 0, 0, 1_000, "egress_limit");

    List<Row> rows = QuotaEventRecorder.refusalRows(List.of(first, later, nextWindow), Map.of("eg", 3_600L));

    assertThat(rows).extracting(Row::type).containsOnly(QuotaEventType.EGRESS_LIMITED);
    assertThat(rows.get(0).dedupeKey()).isEqualTo(rows.get(1).dedupeKey())
        .isEqualTo("egress:eg:" + Instant.parse("2026-12-07T10:00:00Z").getEpochSecond());
    assertThat(rows.get(2).dedupeKey()).isNotEqualTo(rows.get(0).dedupeKey());
    assertThat(rows.get(0).data().getString("window_start")).isEqualTo("2026-12-07T10:00:00Z");
    assertThat(rows.get(0).data().getString("window_end")).isEqualTo("2026-12-07T11:00:00Z");
  }
}
