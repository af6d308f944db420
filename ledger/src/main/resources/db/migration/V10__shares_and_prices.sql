-- Shares: a group member may carry a share of its scope's usage (acme: 60% in uni, 40% in corp), a
-- percent with up to four decimals. Null is a member without a share: it counts whole, as before
-- shares existed. Where any member of a scope has a share, the shares of that scope (null counting as
-- 100) add up to at most 100; the admin API checks it when a group is written, under a lock.
alter table report_group_scopes add column share numeric(7, 4) check (share > 0 and share <= 100);

-- The price list, versioned by the date a version takes effect (00:00 UTC): a version holds from its
-- date until the next one's. One currency for all versions. Unit prices are exact decimals.
create table price_versions (
  effective_from    date primary key,
  currency          text not null,
  storage_gib_month numeric(20, 8) not null check (storage_gib_month >= 0),
  egress_gib        numeric(20, 8) not null check (egress_gib >= 0),
  ingress_gib       numeric(20, 8) not null check (ingress_gib >= 0),
  pulls_1000        numeric(20, 8) not null check (pulls_1000 >= 0),
  updated_at        timestamptz not null default now(),
  updated_by        text not null
);
