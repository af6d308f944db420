package dev.quotaproxy.metering.sync;

import dev.quotaproxy.ledger.LedgerEvent;
import dev.quotaproxy.ledger.LedgerEvent.BlobAdded;
import dev.quotaproxy.ledger.LedgerEvent.BlobRemoved;
import dev.quotaproxy.ledger.LedgerEvent.IntentClosed;
import dev.quotaproxy.ledger.LedgerEvent.IntentOpened;
import dev.quotaproxy.ledger.LedgerEvent.ManifestAdded;
import dev.quotaproxy.ledger.LedgerEvent.ManifestRemoved;
import dev.quotaproxy.ledger.LedgerEvent.Rejected;
import dev.quotaproxy.ledger.LedgerEvent.TrafficMetered;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Reads the entries the Lua scripts append to a namespace's stream (see common.lua, Events) into
 * ledger events. Pure. An entry's stream id gives the event its identity and its time; its {@code n}
 * field, its namespace sequence number.
 */
final class StreamEvents {
  private StreamEvents() {}

  /** Entries read into events for one {@code Ledger.apply}, with the sequence numbers they carry. */
  static final class Batch {
    private final List<LedgerEvent> events = new ArrayList<>();
    private final Map<String, Long> sequences = new HashMap<>();

    /** Adds the entry's event; false for an entry of a type this version does not know (then nothing is added). */
    boolean add(String namespace, String streamId, Map<String, String> fields) {
      Optional<LedgerEvent> event = parse(namespace, streamId, fields);
      event.ifPresent(parsed -> {
        events.add(parsed);
        long sequence = number(fields, "n");
        if (sequence > 0) {
          sequences.put(parsed.id(), sequence);
        }
      });
      return event.isPresent();
    }

    List<LedgerEvent> events() {
      return events;
    }

    /** By event id; events written before numbering carry none. */
    Map<String, Long> sequences() {
      return sequences;
    }
  }

  /**
   * @param namespace the stream's namespace
   * @param streamId  the entry's id, {@code <ms>-<seq>}
   * @param fields    the entry's fields
   * @return the event, or empty for an entry of a type this version does not know
   */
  static Optional<LedgerEvent> parse(String namespace, String streamId, Map<String, String> fields) {
    String id = namespace + "/" + streamId;
    Instant at = Instant.ofEpochMilli(Long.parseLong(streamId.substring(0, streamId.indexOf('-'))));
    String repository = fields.get("repo");
    String user = fields.getOrDefault("user", "");
    if (user.isEmpty()) {
      user = "anonymous";
    }
    LedgerEvent event = switch (fields.getOrDefault("type", "")) {
      // filled and emptied: absent in entries written before counts were metered, which change no count.
      case "blob_added" -> new BlobAdded(id, at, repository, user, fields.get("digest"), number(fields, "size"), list(fields, "scopes"),
          number(fields, "filled") == 1);
      case "blob_removed" -> new BlobRemoved(id, at, repository, user, fields.get("digest"), number(fields, "size"),
          list(fields, "scopes"), number(fields, "emptied") == 1);
      case "manifest_added" -> new ManifestAdded(id, at, repository, user, fields.get("digest"), list(fields, "refs"));
      case "manifest_removed" -> new ManifestRemoved(id, at, repository, user, fields.get("digest"));
      case "traffic" -> new TrafficMetered(id, at, repository, user, Instant.ofEpochSecond(number(fields, "hour")),
          number(fields, "ingress"), number(fields, "egress"), (int) number(fields, "pushes"), (int) number(fields, "pulls"));
      case "rejection" -> new Rejected(id, at, repository, user, fields.get("scope"), fields.get("resource"),
          number(fields, "requested"), number(fields, "usage"), number(fields, "limit"), fields.get("reason"));
      case "intent_opened" -> new IntentOpened(id, at, repository, user, fields.get("request"), fields.getOrDefault("what", "commit"),
          fields.getOrDefault("digest", ""), fields.getOrDefault("session", ""), optionalNumber(fields, "size"),
          fields.getOrDefault("refs", ""));
      case "intent_closed" -> new IntentClosed(id, at, repository, user, fields.get("request"));
      default -> null;
    };
    return Optional.ofNullable(event);
  }

  private static long number(Map<String, String> fields, String name) {
    String value = fields.get(name);
    return value == null || value.isEmpty() ? 0 : Long.parseLong(value);
  }

  /** A number, or -1 when the field is absent or empty. */
  private static long optionalNumber(Map<String, String> fields, String name) {
    String value = fields.get(name);
    return value == null || value.isEmpty() ? -1 : Long.parseLong(value);
  }

  /** A comma-joined list; an empty field is an empty list. */
  private static List<String> list(Map<String, String> fields, String name) {
    String value = fields.getOrDefault(name, "");
    return value.isEmpty() ? List.of() : Arrays.asList(value.split(","));
  }
}
