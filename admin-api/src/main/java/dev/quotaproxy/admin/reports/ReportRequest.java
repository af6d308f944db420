package dev.quotaproxy.admin.reports;

import dev.quotaproxy.admin.Caller;
import dev.quotaproxy.config.Parsers;
import dev.quotaproxy.ledger.reports.By;
import dev.quotaproxy.ledger.reports.Granularity;
import dev.quotaproxy.ledger.reports.Groups;
import dev.quotaproxy.ledger.reports.Groups.Group;
import dev.quotaproxy.ledger.reports.Period;
import dev.quotaproxy.ledger.reports.ReportQuery;
import dev.quotaproxy.ledger.reports.ScopeSet;
import io.vertx.core.Future;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * A report request's parameters turned into what the ledger is asked, narrowed to what the caller
 * may read: {@code scope=}, {@code group=} and a viewer's grants each give a set of scopes, and the
 * report covers the scopes in all of them.
 */
final class ReportRequest {
  private ReportRequest() {}

  /** Query parameters as given (null when absent). */
  record Parameters(String by, String granularity, String from, String to, String scope, String group) {}

  static Future<ReportQuery> resolve(Parameters parameters, Caller caller, Groups groups, Instant now) {
    By by;
    Period period;
    Optional<ScopeSet> scope;
    try {
      by = parameters.by() == null ? By.SCOPE : By.parse(parameters.by());
      Granularity granularity = parameters.granularity() == null ? Granularity.DAY : Granularity.parse(parameters.granularity());
      period = Period.of(granularity, instant("from", parameters.from()), instant("to", parameters.to()), now);
      scope = Optional.ofNullable(parameters.scope()).map(ReportRequest::scope);
    } catch (IllegalArgumentException e) {
      return Future.failedFuture(Refusal.badRequest(e.getMessage()));
    }
    if (scope.isPresent() && !caller.mayRead(parameters.scope())) {
      return Future.failedFuture(Refusal.forbidden("this token may not read scope " + parameters.scope()));
    }
    Optional<ScopeSet> grants = caller.admin() ? Optional.empty() : Optional.of(ScopeSet.of(caller.grants()));
    Optional<ScopeSet> readable = narrow(scope, grants);
    Future<List<Group>> wanted;
    if (parameters.group() != null) {
      wanted = groups.get(parameters.group())
          .map(found -> List.of(found.orElseThrow(() -> Refusal.notFound("no group " + parameters.group()))));
    } else {
      wanted = by == By.GROUP ? groups.list() : Future.succeededFuture(List.of());
    }
    return wanted.map(found -> {
      Optional<ScopeSet> covered = readable;
      if (parameters.group() != null) {
        ScopeSet inGroup = found.get(0).roots();
        covered = narrow(readable, Optional.of(inGroup));
        if (grants.isPresent() && covered.get().isEmpty()) {
          throw Refusal.forbidden("this token may read none of the scopes of group " + parameters.group());
        }
      }
      Map<String, ScopeSet> byGroup = new LinkedHashMap<>();
      Map<String, Map<String, BigDecimal>> shares = new TreeMap<>();
      if (by == By.GROUP) {
        for (Group group : found) {
          ScopeSet roots = narrow(readable, Optional.of(group.roots())).orElseThrow();
          if (!roots.isEmpty()) {
            byGroup.put(group.name(), roots);
            shares.put(group.name(), shares(group, roots));
          }
        }
      }
      return new ReportQuery(by, period, covered, byGroup, shares);
    });
  }

  /**
   * The shares of a group's roots as read: a root narrowed to a scope under it (a viewer granted
   * {@code acme/team} reads {@code acme}'s part only) keeps the share of the member covering it.
   */
  static Map<String, BigDecimal> shares(Group group, ScopeSet read) {
    Map<String, BigDecimal> shares = new TreeMap<>();
    for (String root : read.roots()) {
      for (var member : group.shares().entrySet()) {
        if (ScopeSet.covers(member.getKey(), root)) {
          shares.put(root, member.getValue());
        }
      }
    }
    return shares;
  }

  /** The scopes in every set given; empty when none is given (every scope). */
  static Optional<ScopeSet> narrow(Optional<ScopeSet> a, Optional<ScopeSet> b) {
    if (a.isEmpty()) {
      return b;
    }
    return b.isEmpty() ? a : Optional.of(a.get().intersect(b.get()));
  }

  private static ScopeSet scope(String scope) {
    try {
      return ScopeSet.of(List.of(Parsers.repositoryName().parse(scope)));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("scope '" + scope + "' " + e.getMessage());
    }
  }

  /** ISO-8601: an instant with an offset ({@code 2026-11-01T10:00:00Z}), or a date, meaning its 00:00 UTC. */
  static Optional<Instant> instant(String name, String text) {
    if (text == null) {
      return Optional.empty();
    }
    try {
      return Optional.of(text.length() == 10
          ? LocalDate.parse(text).atStartOfDay(ZoneOffset.UTC).toInstant()
          : OffsetDateTime.parse(text).toInstant());
    } catch (DateTimeParseException e) {
      throw new IllegalArgumentException(name + " must be an ISO-8601 date (2026-11-01) or time with an offset"
          + " (2026-11-01T10:00:00Z), not '" + text + "'");
    }
  }
}
