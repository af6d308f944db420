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
    return start(Files.createTempDirectory("quota-proxy-postgres"), 0, true);
  }

  /**
   * @param port           0 for any free port
   * @param deleteOnClose  remove the data directory when stopped; false keeps it for a restart on it
   */
  public static EmbeddedPostgresServer start(Path directory, int port, boolean deleteOnClose) throws IOException {
    EmbeddedPostgres.Builder builder = EmbeddedPostgres.builder()
        .setDataDirectory(directory)
        .setCleanDataDirectory(deleteOnClose);
    if (port != 0) {
      builder.setPort(port);
    }
    return new EmbeddedPostgresServer(builder.start(), directory);
  }

  public int port() {
    return postgres.getPort();
  }

  public LedgerDatabase database() {
    return new LedgerDatabase("jdbc:postgresql://127.0.0.1:" + postgres.getPort() + "/postgres",
        "127.0.0.1", postgres.getPort(), "postgres", "postgres", "postgres");
  }

  @Override
  public void close() throws IOException {
    postgres.close();
  }

  public Path directory() {
    return directory;
  }
}
