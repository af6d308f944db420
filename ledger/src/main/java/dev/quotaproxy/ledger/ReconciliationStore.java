package dev.quotaproxy.ledger;

import dev.quotaproxy.oci.Scopes;
import dev.quotaproxy.ledger.RepositoryDiff.Reference;
import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/** The SQL of registry reconciliations and backfills: reading a repository's links, committing a repository's changes, finishing a run. */
final class ReconciliationStore {
  /** One run at a time, across every process that shares the ledger. */
  private static final String LOCK_KEY = "hashtext('quota-proxy:registry-reconciliation')";

  private final Pool pool;

  /**
   * A run being walked: a reconciliations row, new or resumed.
   *
   * @param repositories repositories its earlier attempts committed
   */
  record Run(long id, String kind, String resumeAfter, int repositories) {}

  ReconciliationStore(Pool pool) {
    this.pool = pool;
  }

  /**
   * Takes the run lock on a connection of its own, held until {@link #unlock}: a session-level advisory
   * lock is released by Postgres if this process dies, so a killed run never blocks the next.
   */
  Future<SqlConnection> lock() {
    return pool.getConnection().compose(connection -> connection
        .query("select pg_try_advisory_lock(" + LOCK_KEY + ")").execute()
        .compose(rows -> {
          if (rows.iterator().next().getBoolean(0)) {
            return Future.succeededFuture(connection);
          }
          return connection.close().transform(ignored -> Future.failedFuture(
              new IllegalStateException("another registry reconciliation or backfill is running")));
        }));
  }

  Future<Void> unlock(SqlConnection connection) {
    return connection.query("select pg_advisory_unlock(" + LOCK_KEY + ")").execute()
        .transform(ignored -> connection.close());
  }

  /** The latest run of this kind when it did not finish (killed, stopped or failed), else a new one. */
  Future<Run> startOrResume(String kind) {
    return pool.preparedQuery("""
            select id, status, resume_after, repositories
            from reconciliations
            where kind = $1
            order by id desc
            limit 1""")
        .execute(params(kind))
        .compose(rows -> {
          Row latest = rows.iterator().hasNext() ? rows.iterator().next() : null;
          if (latest != null && !"done".equals(latest.getString("status"))) {
            Run run = new Run(latest.getLong("id"), kind, latest.getString("resume_after"), latest.getInteger("repositories"));
            return pool.preparedQuery("update reconciliations set status = 'running', error = null where id = $1")
                .execute(params(run.id())).map(ignored -> run);
          }
          return pool.preparedQuery("insert into reconciliations (kind) values ($1) returning id")
              .execute(params(kind))
              .map(inserted -> new Run(inserted.iterator().next().getLong(0), kind, null, 0));
        });
  }

  Future<LedgerRepository> repository(String repository) {
    return RepositoryRecords.read(pool, repository);
  }

  /**
   * Applies one repository's changes and records it as the run's last committed repository, in one
   * transaction: a run interrupted at any point resumes after a repository that is entirely applied.
   * What events changed since {@code before} was read is left out (see {@link #applyUnchanged}).
   */
  Future<Void> commit(Run run, LedgerRepository before, RepositoryDiff diff, String pushedBy) {
    return pool.withTransaction(connection -> {
      // Not waiting for the flush to disk saves most of a small transaction's time. A crash may lose the
      // last few commits, but whole, resume_after with them: the run resumes a little earlier.
      Future<Void> done = connection.query("set local synchronous_commit = off").execute().mapEmpty();
      if (!diff.isEmpty()) {
        done = done.compose(ignored -> applyUnchanged(connection, run, before, diff, pushedBy));
      }
      return done.compose(ignored -> connection.preparedQuery("""
              update reconciliations
              set resume_after = $2, repositories = repositories + 1
              where id = $1""")
          .execute(params(run.id(), diff.repository())).mapEmpty());
    });
  }

  /**
   * Applies the diff, less what events changed in the ledger since {@code before} was read (the registry
   * was read after it, so the rest is the registry's newer word), and marks the namespace for recounts.
   *
   * <p>Holds the namespace's event application off while it compares and writes: the lock on its progress
   * row, which every batch of the namespace takes first; with no row yet (no batch ever applied), the
   * whole table, which a first batch's lock waits for too. The mark then makes the namespace's batches of
   * events written until a minute after now (a margin for the Redis and Postgres clocks to differ by)
   * recount usage from the links: those events may repeat a change made here, and their charges would
   * count it twice.
   */
  private static Future<Void> applyUnchanged(SqlConnection connection, Run run, LedgerRepository before,
      RepositoryDiff diff, String pushedBy) {
    String namespace = Scopes.namespace(diff.repository());
    return connection.preparedQuery("select 1 from namespace_progress where namespace = $1 for update")
        .execute(params(namespace))
        .compose(rows -> rows.size() > 0
            ? Future.<Void>succeededFuture()
            : connection.query("lock table namespace_progress in exclusive mode").execute().<Void>mapEmpty())
        .compose(locked -> RepositoryRecords.read(connection, diff.repository()))
        .compose(now -> {
          RepositoryDiff unchanged = diff.without(now.changedSince(before));
          if (unchanged.isEmpty()) {
            return Future.<Void>succeededFuture();
          }
          return apply(connection, unchanged, pushedBy)
              // The namespace's counts follow its corrected links and manifests at once, under the same lock on
              // its event application: the ledger's counts never stand apart from what it holds.
              .compose(ignored -> connection.preparedQuery(LedgerSql.RECOUNT_NAMESPACE_COUNTS)
                  .execute(params(namespace, LedgerSql.underPattern(namespace))))
              .compose(ignored -> changed(connection, run, diff.repository()))
              .compose(ignored -> connection.preparedQuery("""
                  insert into namespace_recounts (namespace, until_ms)
                  values ($1, (extract(epoch from clock_timestamp()) * 1000)::bigint + 60000)
                  on conflict (namespace) do update set until_ms = greatest(namespace_recounts.until_ms, excluded.until_ms)""")
                  .execute(params(namespace)).mapEmpty());
        });
  }

  private static Future<Void> apply(SqlConnection connection, RepositoryDiff diff, String pushedBy) {
    String repository = diff.repository();
    List<Statement> statements = new ArrayList<>();
    if (!diff.dropManifests().isEmpty()) {
      // Their references go with them (on delete cascade).
      statements.add(new Statement("delete from manifests where repository = $1 and digest = any($2::text[])",
          params(repository, strings(diff.dropManifests()))));
    }
    if (!diff.dropReferences().isEmpty()) {
      statements.add(new Statement("""
          delete from manifest_references r
          using unnest($2::text[], $3::text[]) as gone (manifest_digest, digest)
          where r.repository = $1 and r.manifest_digest = gone.manifest_digest and r.digest = gone.digest""",
          params(repository, manifestsOf(diff.dropReferences()), digestsOf(diff.dropReferences()))));
    }
    if (!diff.dropBlobs().isEmpty()) {
      statements.add(new Statement("delete from repository_blobs where repository = $1 and digest = any($2::text[])",
          params(repository, strings(diff.dropBlobs()))));
    }
    if (!diff.addBlobs().isEmpty()) {
      String[] digests = strings(diff.addBlobs().keySet());
      Long[] sizes = new Long[digests.length];
      for (int i = 0; i < digests.length; i++) {
        sizes[i] = diff.addBlobs().get(digests[i]);
      }
      // A digest is one content: a size the ledger already has for it stays.
      statements.add(new Statement("""
          insert into blobs (digest, size)
          select * from unnest($1::text[], $2::bigint[])
          on conflict (digest) do nothing""", params(digests, sizes)));
      statements.add(new Statement("""
          insert into repository_blobs (repository, digest, linked_at)
          select $1, digest, now() from unnest($2::text[]) as added (digest)
          on conflict do nothing""", params(repository, digests)));
    }
    if (!diff.addManifests().isEmpty()) {
      statements.add(new Statement("""
          insert into manifests (repository, digest, pushed_at, pushed_by)
          select $1, digest, now(), $3 from unnest($2::text[]) as added (digest)
          on conflict do nothing""", params(repository, strings(diff.addManifests()), pushedBy)));
    }
    if (!diff.addReferences().isEmpty()) {
      statements.add(new Statement("""
          insert into manifest_references (repository, manifest_digest, digest)
          select $1, manifest_digest, digest from unnest($2::text[], $3::text[]) as added (manifest_digest, digest)
          on conflict do nothing""",
          params(repository, manifestsOf(diff.addReferences()), digestsOf(diff.addReferences()))));
    }
    return run(connection, statements);
  }

  Future<Set<String>> repositories() {
    return RepositoryRecords.names(pool);
  }

  /**
   * Drops what the ledger held for a repository when {@code before} was read, and the registry's catalog,
   * listed after that, no longer names; less what events changed since.
   */
  Future<Void> dropRepository(Run run, LedgerRepository before) {
    return pool.withTransaction(connection -> applyUnchanged(connection, run, before, RepositoryDiff.vanished(before), run.kind()));
  }

  /**
   * Recomputes every scope's usage from the links (and its counts from the links and manifests), records where
   * usage differed as drift, corrects it and marks the run done: one transaction, holding off event application (which writes the same tables)
   * so no event lands between the sums and their writing.
   */
  Future<List<Drift>> finish(Run run) {
    return pool.withTransaction(connection -> connection
        .query("lock table repository_blobs, scope_usage, scope_counts in exclusive mode").execute()
        // Counts too, from every link and manifest: events written before counts were metered (an upgrade) carry no
        // repository changes, and a run corrects what they missed.
        .compose(ignored -> connection.query(LedgerSql.RECOUNT_ALL_COUNTS).execute())
        .compose(ignored -> connection.query("""
            with link_scopes as (
              -- Each link counts in every scope of its repository's path: acme/team/app in acme,
              -- acme/team and acme/team/app. Distinct, so a blob shared below a scope counts once in it.
              select distinct array_to_string(path[1:depth], '/') as scope, l.digest
              from repository_blobs l
              cross join lateral string_to_array(l.repository, '/') as path
              cross join lateral generate_series(1, cardinality(path)) as depth
            ),
            found as (
              select s.scope, sum(b.size)::bigint as bytes
              from link_scopes s
              join blobs b on b.digest = s.digest
              group by s.scope
            )
            select coalesce(f.scope, u.scope) as scope,
                   coalesce(u.used_bytes, 0) as expected,
                   coalesce(f.bytes, 0) as found
            from found f
            full join scope_usage u on u.scope = f.scope
            where coalesce(u.used_bytes, 0) <> coalesce(f.bytes, 0)
            order by 1""").execute())
        .compose(rows -> {
          List<Drift> drift = new ArrayList<>();
          rows.forEach(row -> drift.add(new Drift(row.getString(0), row.getLong(1), row.getLong(2))));
          return correct(connection, run, drift).map(ignored -> drift);
        }));
  }

  private static Future<Void> correct(SqlConnection connection, Run run, List<Drift> drift) {
    String[] scopes = drift.stream().map(Drift::scope).toArray(String[]::new);
    Long[] expected = drift.stream().map(Drift::expected).toArray(Long[]::new);
    Long[] found = drift.stream().map(Drift::found).toArray(Long[]::new);
    List<Statement> statements = new ArrayList<>();
    if (!drift.isEmpty()) {
      statements.add(new Statement("""
          insert into scope_usage (scope, used_bytes, updated_at)
          select scope, bytes, now() from unnest($1::text[], $2::bigint[]) as found (scope, bytes)
          on conflict (scope) do update set used_bytes = excluded.used_bytes, updated_at = excluded.updated_at""",
          params(scopes, found)));
      // Reports carry the corrected level from this hour on, not the one the drift had left.
      statements.add(new Statement("with changed as (select * from unnest($1::text[], $2::bigint[]) as found (scope, bytes))\n"
          + LedgerSql.STORAGE_CORRECTED, params(scopes, found)));
      statements.add(new Statement("""
          insert into drift (reconciliation_id, scope, expected_bytes, found_bytes, corrected)
          select $1, scope, expected, found, true
          from unnest($2::text[], $3::bigint[], $4::bigint[]) as d (scope, expected, found)""",
          params(run.id(), scopes, expected, found)));
    }
    statements.add(new Statement("""
        update reconciliations set status = 'done', finished_at = now(), error = null where id = $1""",
        params(run.id())));
    return run(connection, statements);
  }

  /** A run stopped at its limit, to be resumed. */
  Future<Void> stop(Run run) {
    return pool.preparedQuery("update reconciliations set status = 'stopped' where id = $1")
        .execute(params(run.id())).mapEmpty();
  }

  /** A run that failed; the next run of its kind resumes it. */
  Future<Void> fail(Run run, Throwable failure) {
    return pool.preparedQuery("update reconciliations set status = 'failed', error = $2 where id = $1")
        .execute(params(run.id(), String.valueOf(failure.getMessage()))).mapEmpty();
  }

  /** Namespaces the run changed links, manifests or references in, over all its attempts. */
  Future<Set<String>> changedNamespaces(Run run) {
    return pool.preparedQuery("select namespace from reconciliation_namespaces where reconciliation_id = $1")
        .execute(params(run.id()))
        .map(rows -> {
          Set<String> namespaces = new TreeSet<>();
          rows.forEach(row -> namespaces.add(row.getString(0)));
          return namespaces;
        });
  }

  private static Future<Void> changed(SqlClient connection, Run run, String repository) {
    return connection.preparedQuery("""
            insert into reconciliation_namespaces (reconciliation_id, namespace) values ($1, $2)
            on conflict do nothing""")
        .execute(params(run.id(), Scopes.namespace(repository))).mapEmpty();
  }

  private record Statement(String sql, Tuple parameters) {}

  /**
   * Parameters in order; an array is one parameter (a Postgres array). {@code Tuple.of(x, array)} would
   * pick the varargs overload and spread the array.
   */
  private static Tuple params(Object... values) {
    Tuple tuple = Tuple.tuple();
    for (Object value : values) {
      tuple.addValue(value);
    }
    return tuple;
  }

  /** The statements one after the other on one connection (a transaction's). */
  private static Future<Void> run(SqlConnection connection, List<Statement> statements) {
    Future<Void> done = Future.succeededFuture();
    for (Statement statement : statements) {
      done = done.compose(ignored -> connection.preparedQuery(statement.sql()).execute(statement.parameters()).mapEmpty());
    }
    return done;
  }

  private static String[] strings(Set<String> values) {
    return values.stream().sorted().toArray(String[]::new);
  }

  private static String[] manifestsOf(List<Reference> references) {
    return references.stream().map(Reference::manifest).toArray(String[]::new);
  }

  private static String[] digestsOf(List<Reference> references) {
    return references.stream().map(Reference::digest).toArray(String[]::new);
  }
}
