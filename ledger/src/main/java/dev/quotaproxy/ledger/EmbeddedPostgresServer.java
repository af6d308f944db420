package dev.quotaproxy.ledger;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A real Postgres (17, binaries from Maven Central) started in a temporary directory on a free
 * port: for the quick start when no {@code postgres.url} is configured, and for tests. Its data
 * is gone when it stops. Starting and stopping block: call them outside any event loop.
 */
public final class EmbeddedPostgresServer implements AutoCloseable {
  private final EmbeddedPostgres postgres;
  private final Path directory;

  private EmbeddedPostgresServer(EmbeddedPostgres postgres, Path directory) {
    this.postgres = postgres;
    this.directory = directory;
  }

  public static EmbeddedPostgresServer start() throws IOException {
    Path directory = Files.createTempDirectory("quota-proxy-postgres");
    EmbeddedPostgres postgres = EmbeddedPostgres.builder()
        .setDataDirectory(directory)
        .setCleanDataDirectory(true)
        .start();
    return new EmbeddedPostgresServer(postgres, directory);
  }

  public LedgerDatabase database() {
    return new LedgerDatabase("jdbc:postgresql://127.0.0.1:" + postgres.getPort() + "/postgres",
        "127.0.0.1", postgres.getPort(), "postgres", "postgres", "postgres");
  }

  @Override
  public void close() throws IOException {
    postgres.close();
  }

  Path directory() {
    return directory;
  }
}
