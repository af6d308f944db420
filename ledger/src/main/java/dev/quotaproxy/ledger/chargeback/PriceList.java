package dev.quotaproxy.ledger.chargeback;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Which price version holds when: a version holds from its date (00:00 UTC) until the next version's
 * date, so a period is cut at every version date inside it into segments, each priced by one
 * version; earlier months keep the prices they had. Pure.
 */
public final class PriceList {
  private final List<PriceVersion> versions;

  public PriceList(List<PriceVersion> versions) {
    this.versions = versions.stream().sorted(Comparator.comparing(PriceVersion::effectiveFrom)).toList();
  }

  /** A part of a period priced by one version. */
  public record Segment(Instant from, Instant to, PriceVersion prices) {
    public long hours() {
      return java.time.Duration.between(from, to).toHours();
    }
  }

  /** Thrown when no version holds at the start of the period asked for. */
  public static final class NoPriceException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    NoPriceException(String message) {
      super(message, null, false, false);
    }
  }

  /**
   * The segments of {@code [from, to)}, in order, covering it exactly.
   *
   * @throws NoPriceException when no version holds at {@code from}
   */
  public List<Segment> segments(Instant from, Instant to) {
    PriceVersion current = null;
    List<PriceVersion> later = new ArrayList<>();
    for (PriceVersion version : versions) {
      if (!version.from().isAfter(from)) {
        current = version;
      } else if (version.from().isBefore(to)) {
        later.add(version);
      }
    }
    if (current == null) {
      throw new NoPriceException("no price list holds on " + from.toString().substring(0, 10)
          + (versions.isEmpty()
              ? ": there is none; set one with PUT /api/v1/prices/{effective_from}"
              : "; the earliest takes effect on " + versions.get(0).effectiveFrom()));
    }
    List<Segment> segments = new ArrayList<>();
    Instant start = from;
    for (PriceVersion next : later) {
      segments.add(new Segment(start, next.from(), current));
      start = next.from();
      current = next;
    }
    segments.add(new Segment(start, to, current));
    return segments;
  }
}
