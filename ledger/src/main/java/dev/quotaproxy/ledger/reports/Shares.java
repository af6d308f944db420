package dev.quotaproxy.ledger.reports;

import java.math.BigDecimal;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Shares of a scope's usage between groups ({@code acme}: 60% in {@code uni}, 40% in {@code corp}). A
 * share is a percent, above 0 and at most 100, with at most four decimals; a member without one counts
 * whole. Pure.
 *
 * <p>What must hold: for every member scope S of any group, the groups whose reports take S's usage
 * (through the root of theirs that covers S, S itself or an ancestor) take at most 100% of it, a member
 * without a share counting 100%. Checked only where a share is involved, so groups that simply overlap
 * (a scope counted in two groups in full, as before shares) stay as they are. Checking at every member
 * covers the nested case too: {@code acme} 60% in uni and {@code acme/team} 50% in corp give
 * {@code acme/team} 110%.
 */
public final class Shares {
  public static final BigDecimal WHOLE = BigDecimal.valueOf(100);
  private static final int MAX_DECIMALS = 4;

  private Shares() {}

  /** A scope whose shares add up to more than 100%: the sum, and each group's part of it. */
  public record Excess(String scope, BigDecimal sum, Map<String, BigDecimal> byGroup) {
    public String message() {
      return "the shares of scope " + scope + " add up to " + text(sum) + "%, over 100% (" + String.join(", ",
          byGroup.entrySet().stream().map(e -> e.getKey() + " " + text(e.getValue()) + "%").toList()) + ")";
    }
  }

  /** Thrown inside the transaction of a group change that would exceed 100% somewhere; nothing was written. */
  public static final class ExcessException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final transient Excess excess;

    public ExcessException(Excess excess) {
      super(excess.message(), null, false, false);
      this.excess = excess;
    }

    public Excess excess() {
      return excess;
    }
  }

  /**
   * A share as given: a number ({@code 60}) or text ({@code "60"}, {@code "60%"}, {@code "33.3333%"}).
   *
   * @throws IllegalArgumentException naming the scope when it is not a percent above 0 and at most 100
   */
  public static BigDecimal parse(String scope, Object given) {
    String text = String.valueOf(given).trim();
    if (text.endsWith("%")) {
      text = text.substring(0, text.length() - 1).trim();
    }
    BigDecimal share;
    try {
      share = new BigDecimal(text);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("the share of " + scope + " must be a percent like 60 or \"60%\", not '" + given + "'");
    }
    if (share.signum() <= 0 || share.compareTo(WHOLE) > 0) {
      throw new IllegalArgumentException("the share of " + scope + " must be above 0% and at most 100%, not " + text + "%");
    }
    if (normal(share).scale() > MAX_DECIMALS) {
      throw new IllegalArgumentException("the share of " + scope + " has at most " + MAX_DECIMALS + " decimals, not " + text);
    }
    return normal(share);
  }

  /**
   * Checks a group's shares against its own scopes: each is a member, and a root of the group (a member
   * under another member adds nothing to reports, so a share of it would mean nothing).
   */
  public static void checkMembers(Collection<String> scopes, Map<String, BigDecimal> shares) {
    ScopeSet roots = ScopeSet.of(scopes);
    for (String scope : shares.keySet()) {
      if (!scopes.contains(scope)) {
        throw new IllegalArgumentException("share of " + scope + ", which is not one of the group's scopes");
      }
      if (!roots.roots().contains(scope)) {
        throw new IllegalArgumentException("share of " + scope + ", which is under another scope of the group and adds"
            + " nothing to its reports; give the share to that scope");
      }
    }
  }

  /** A group's members: its scopes, and the shares of those that have one (percent). */
  public record Members(Collection<String> scopes, Map<String, BigDecimal> shares) {}

  /**
   * The first member scope (in name order) that the groups (by name) take more than 100% of, where a
   * share is involved.
   */
  public static Optional<Excess> excess(Map<String, Members> groups) {
    TreeSet<String> members = new TreeSet<>();
    groups.values().forEach(group -> members.addAll(group.scopes()));
    Map<String, List<String>> rootsByGroup = new TreeMap<>();
    groups.forEach((name, group) -> rootsByGroup.put(name, ScopeSet.of(group.scopes()).roots()));
    for (String scope : members) {
      BigDecimal sum = BigDecimal.ZERO;
      boolean shared = false;
      Map<String, BigDecimal> byGroup = new TreeMap<>();
      for (var group : groups.entrySet()) {
        for (String root : rootsByGroup.get(group.getKey())) {
          if (ScopeSet.covers(root, scope)) {
            BigDecimal share = group.getValue().shares().get(root);
            shared |= share != null;
            BigDecimal taken = share == null ? WHOLE : share;
            sum = sum.add(taken);
            byGroup.put(group.getKey(), taken);
            break; // roots are disjoint: at most one covers the scope
          }
        }
      }
      if (shared && sum.compareTo(WHOLE) > 0) {
        return Optional.of(new Excess(scope, normal(sum), byGroup));
      }
    }
    return Optional.empty();
  }

  /** Without trailing zeros and never in exponent form: 60.0000 is 60. */
  public static BigDecimal normal(BigDecimal value) {
    BigDecimal stripped = value.stripTrailingZeros();
    return stripped.scale() < 0 ? stripped.setScale(0) : stripped;
  }

  public static String text(BigDecimal value) {
    return normal(value).toPlainString();
  }

  /** The share as a fraction of 1 (60 is 0.6), exact. */
  public static BigDecimal fraction(BigDecimal percent) {
    return percent.movePointLeft(2);
  }
}
