package dev.quotaproxy.ledger.limits;

import dev.quotaproxy.config.Limits;
import dev.quotaproxy.config.SystemSettings;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * What the configuration file may change in the recorded limits at start. The file owns only the rows
 * it wrote itself ({@code updated_by = configuration}): a row an admin wrote through the API, a delete
 * included (kept as an unlimited row), is never overwritten by the file. A scope the file configured
 * before and no longer lists becomes unlimited, as it was before the file named it. Pure.
 */
public final class ConfigurationSeed {
  public static final String ACTOR = "configuration";

  private ConfigurationSeed() {}

  /** A recorded row: its limits and who wrote them last. */
  public record Recorded(Limits limits, String updatedBy) {
    boolean ownedByConfiguration() {
      return ACTOR.equals(updatedBy);
    }
  }

  /** One row to write: {@code before} is null when the scope has no row yet. */
  public record Write(String scope, Limits before, Limits after) {}

  public static List<Write> scopes(Map<String, Recorded> recorded, Map<String, Limits> configured) {
    List<Write> writes = new ArrayList<>();
    TreeSet<String> scopes = new TreeSet<>(recorded.keySet());
    scopes.addAll(configured.keySet());
    for (String scope : scopes) {
      Recorded row = recorded.get(scope);
      Limits wanted = configured.get(scope);
      if (row == null) {
        writes.add(new Write(scope, null, wanted));
      } else if (row.ownedByConfiguration()) {
        Limits after = wanted == null ? Limits.UNLIMITED : wanted;
        if (!after.equals(row.limits())) {
          writes.add(new Write(scope, row.limits(), after));
        }
      }
    }
    return writes;
  }

  /**
   * The settings the file gives, over the recorded ones if the file owns them; {@code allow_overcommit}
   * has no setting in the file and is kept. Null when nothing changes.
   */
  public static SystemSettings system(SystemSettings recorded, String updatedBy, SystemSettings configured) {
    if (recorded != null && !ACTOR.equals(updatedBy)) {
      return null;
    }
    boolean allow = recorded != null && recorded.allowOvercommit();
    SystemSettings after = new SystemSettings(configured.hardStorage(), configured.writeRatio(), configured.readOnlyForced(), allow,
        configured.retentionDays());
    return after.equals(recorded) ? null : after;
  }
}
