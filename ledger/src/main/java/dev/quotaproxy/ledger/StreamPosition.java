package dev.quotaproxy.ledger;

/** A position in a namespace's event stream: the stream entry id {@code <ms>-<seq>}. */
public record StreamPosition(long ms, long seq) implements Comparable<StreamPosition> {
  public static StreamPosition parse(String streamId) {
    int dash = streamId.indexOf('-');
    try {
      if (dash > 0) {
        return new StreamPosition(Long.parseLong(streamId.substring(0, dash)), Long.parseLong(streamId.substring(dash + 1)));
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException("not a stream entry id (<ms>-<seq>): " + streamId);
  }

  @Override
  public int compareTo(StreamPosition other) {
    int byMs = Long.compare(ms, other.ms);
    return byMs != 0 ? byMs : Long.compare(seq, other.seq);
  }

  @Override
  public String toString() {
    return ms + "-" + seq;
  }
}
