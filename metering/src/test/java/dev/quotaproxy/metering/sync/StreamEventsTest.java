package dev.quotaproxy.metering.sync;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.ledger.LedgerEvent.BlobAdded;
import dev.quotaproxy.ledger.LedgerEvent.BlobRemoved;
import dev.quotaproxy.ledger.LedgerEvent.IntentClosed;
import dev.quotaproxy.ledger.LedgerEvent.IntentOpened;
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
  void aRepositorysFirstAndLastLinkSayTheyFilledAndEmptiedItAndEntriesWithoutTheFieldsChangeNoCount() {
    StreamEvents.Batch batch = new StreamEvents.Batch();

    batch.add("acme", "1-0", Map.of("type", "blob_added", "repo", "acme/app", "digest", "sha256:a", "size", "1", "scopes",
        "acme/app", "filled", "1"));
    batch.add("acme", "2-0", Map.of("type", "blob_removed", "repo", "acme/app", "digest", "sha256:a", "size", "1", "scopes",
        "acme/app", "emptied", "1"));
    batch.add("acme", "3-0", Map.of("type", "blob_added", "repo", "acme/app", "digest", "sha256:b", "size", "1", "scopes", ""));
    batch.add("acme", "4-0", Map.of("type", "blob_removed", "repo", "acme/app", "digest", "sha256:b", "size", "1", "scopes", ""));

    assertThat(batch.events()).extracting(event -> event instanceof BlobAdded added
        ? added.filled()
        : ((BlobRemoved) event).emptied()).containsExactly(true, true, false, false);
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

  @Test
  void intentEntriesBecomeIntentEvents() {
    StreamEvents.Batch batch = new StreamEvents.Batch();

    assertThat(batch.add("acme", "5-0", Map.of("type", "intent_opened", "repo", "acme/app", "user", "alice", "n", "3", "request", "r1",
        "what", "commit_manifest", "digest", "sha256:m", "session", "", "size", "404", "refs", "sha256:l:20"))).isTrue();
    assertThat(batch.add("acme", "6-0", Map.of("type", "intent_opened", "repo", "acme/app", "user", "", "n", "4", "request", "r2",
        "what", "commit", "digest", "sha256:a", "session", "s1", "size", "", "refs", ""))).isTrue();
    assertThat(batch.add("acme", "7-0", Map.of("type", "intent_closed", "repo", "acme/app", "user", "", "n", "5", "request", "r1")))
        .isTrue();

    assertThat(batch.events()).containsExactly(
        new IntentOpened("acme/5-0", Instant.ofEpochMilli(5), "acme/app", "alice", "r1", "commit_manifest", "sha256:m", "", 404,
            "sha256:l:20"),
        new IntentOpened("acme/6-0", Instant.ofEpochMilli(6), "acme/app", "anonymous", "r2", "commit", "sha256:a", "s1", -1, ""),
        new IntentClosed("acme/7-0", Instant.ofEpochMilli(7), "acme/app", "anonymous", "r1"));
    assertThat(batch.sequences()).containsOnlyKeys("acme/5-0", "acme/6-0", "acme/7-0");
  }
}
