package dev.quotaproxy.metering;

import java.util.Map;

/**
 * Receives every event a quota script appended to a namespace's stream, as the script returned it:
 * the entry's id and its fields. The ledger's copy of the stream in the proxy's memory is kept this way
 * (see {@code EventOutbox}), so events Redis loses before the feed reads them are not lost with it.
 */
@FunctionalInterface
public interface EmittedEvents {
  EmittedEvents NONE = (namespace, id, fields) -> {};

  /** Called on the event loop of the call that appended the entry; must not block. */
  void emitted(String namespace, String streamId, Map<String, String> fields);
}
