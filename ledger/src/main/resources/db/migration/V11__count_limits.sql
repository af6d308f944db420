-- Count limits per scope: repositories holding anything, and manifests held by repositories under the
-- scope (distribution cannot delete a tag alone, so manifests, not tags, is what a limit can hold to).
-- -1 is unlimited (hard) or none (soft), as for storage.
alter table scope_limits
  add column repositories_hard bigint not null default -1 check (repositories_hard >= -1),
  add column repositories_soft bigint not null default -1 check (repositories_soft >= -1),
  add column manifests_hard    bigint not null default -1 check (manifests_hard >= -1),
  add column manifests_soft    bigint not null default -1 check (manifests_soft >= -1);
