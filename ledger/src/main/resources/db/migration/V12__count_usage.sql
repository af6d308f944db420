-- Counts in the ledger, beside storage: each scope's repositories holding at least one link and the manifests
-- held under it, as they stand (scope_counts), and the highest each reached per hour and per day, as storage's
-- high water (0: no change recorded in that bucket, so reports carry the figure before it forward).
create table scope_counts (
  scope        text primary key,
  repositories bigint not null default 0 check (repositories >= 0),
  manifests    bigint not null default 0 check (manifests >= 0)
);
create index scope_counts_scope_prefix on scope_counts (scope text_pattern_ops);

alter table usage_hourly
  add column repositories_high_water bigint not null default 0,
  add column manifests_high_water    bigint not null default 0;
alter table usage_daily
  add column repositories_high_water bigint not null default 0,
  add column manifests_high_water    bigint not null default 0;

-- The counts of what the ledger holds now: a repository counts in every scope of its path (acme, acme/team,
-- acme/team/app) when it links anything, and its manifests count there too. Earlier hours carry no counts.
insert into scope_counts (scope, repositories, manifests)
select scope, sum(filled)::bigint, sum(held)::bigint
from (
  select repository, 1 as filled, 0 as held from repository_blobs group by repository
  union all
  select repository, 0, count(*) from manifests group by repository
) as per_repository
cross join lateral string_to_array(repository, '/') as path
cross join lateral generate_series(1, cardinality(path)) as depth
cross join lateral (select array_to_string(path[1:depth], '/') as scope) as prefix
group by scope;
