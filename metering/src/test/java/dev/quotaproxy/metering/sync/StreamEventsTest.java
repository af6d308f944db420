package dev.quotaproxy.metering.sync;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.ledger.LedgerEvent.BlobAdded;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class StreamEventsTest {

  @Test
  void anEntryBecomesAnEventNamedByItsNamespaceAndStreamIdAndTimedByIt() {
    StreamEvents.Batch batch = new StreamEvents.Batch();

    assertThat(batch.add("acme", "1700000000123-4", Map.of("type", "blob_added", "repo", "acme/app", "user", "alice",
        "n", "42", "digest", "sha256:a", "size", "100", "scopes", "acme,acme/app"))).isTrue();

    assertThat(batch.events()).containsExactly(new BlobAdded("acme/1700000000123-4", Instant.ofEpochMilli(1_700_000_000_123L),
        "acme/app", "alice", "sha256:a", 100, List.of("acme", "acme/app")));
    assertThat(batch.sequences()).containsExactly(Map.entry("acme/1700000000123-4", 42L));
  }

  @Test
  void entriesWrittenBeforeNumberingCarryNoSequenceAndUnknownTypesAreLeftOut() {
    StreamEvents.Batch batch = new StreamEvents.Batch();

    assertThat(batch.add("acme", "1-0", Map.of("type", "manifest_removed", "repo", "acme/app", "digest", "sha256:m"))).isTrue();
    assertThat(batch.add("acme", "2-0", Map.of("type", "from_the_future", "repo", "acme/app", "n", "7"))).isFalse();

    assertThat(batch.events()).hasSize(1);
    assertThat(batch.events().get(0).user()).as("no user recorded").isEqualTo("anonymous");
    assertThat(batch.sequences()).isEmpty();
  }
}
