package dev.quotaproxy.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quotaproxy.ledger.support.TestPostgres;
import java.net.URI;
import org.junit.jupiter.api.Test;

class LedgerDatabaseTest {
  @Test
  void aUrlNamesServerDatabaseAndCredentials() {
    LedgerDatabase db = LedgerDatabase.fromUrl(URI.create("postgresql://quota:s3cret@db.internal:6543/ledger"));

    assertThat(db)
        .isEqualTo(new LedgerDatabase("jdbc:postgresql://db.internal:6543/ledger", "db.internal", 6543, "ledger", "quota", "s3cret"));
    assertThat(LedgerDatabase.fromUrl(URI.create("postgresql://db")).port()).isEqualTo(5432);
    assertThat(LedgerDatabase.fromUrl(URI.create("postgresql://db")).database()).isEqualTo("postgres");
  }

  @Test
  void theMigrationsMakeEveryTableAndRunTwiceHarmlessly() throws Exception {
    try (TestPostgres postgres = TestPostgres.start()) {
      postgres.database().migrate();

      var tables = postgres.sql("select tablename from pg_tables where schemaname = 'public' order by tablename");
      assertThat(tables).extracting(row -> row.getString(0)).contains(
          "ledger_events", "namespace_progress", "blobs", "repository_blobs", "manifests", "manifest_references",
          "scope_usage", "usage_hourly", "user_traffic_hourly", "usage_daily", "user_traffic_daily", "rejections",
          "scope_limits", "system_settings", "audit_log", "reconciliations", "drift", "redis_state", "quota_events",
          "webhook_deliveries", "webhook_attempts", "quota_event_state");
    }
  }
}
