-- What a registry reconciliation or backfill needs to resume after an interruption and to report at the
-- end. A run commits one repository at a time (its links, manifests and references, and resume_after, in
-- one transaction), so a run that is killed, stopped or failed continues after its last committed
-- repository, under the same reconciliations row.

alter table reconciliations
  add column repositories integer not null default 0,  -- repositories committed so far, across resumes
  add column error        text;                        -- why the last attempt failed (status 'failed')

-- Top-level namespaces whose links, manifests or references the run changed: the caller refreshes Redis
-- for them. Kept per run, not in memory, so a resumed run still reports what its earlier attempts changed.
create table reconciliation_namespaces (
  reconciliation_id bigint not null references reconciliations (id) on delete cascade,
  namespace         text not null,
  primary key (reconciliation_id, namespace)
);
