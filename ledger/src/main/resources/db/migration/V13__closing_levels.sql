-- The level each figure was left at when a bucket closed, beside the highest it reached there. In a bucket where a
-- figure changed, reports show its high water; in the buckets after, until its next change, the level it closed at.
-- Null: the figure did not change in the bucket (its high water is 0 then). Without these, reports carried the high
-- water forward, so storage (or a repository) a delete freed was reported, and charged, until the next change.
alter table usage_hourly
  add column storage_close      bigint check (storage_close >= 0),
  add column repositories_close bigint check (repositories_close >= 0),
  add column manifests_close    bigint check (manifests_close >= 0);
alter table usage_daily
  add column storage_close      bigint check (storage_close >= 0),
  add column repositories_close bigint check (repositories_close >= 0),
  add column manifests_close    bigint check (manifests_close >= 0);

-- Buckets recorded before: where they left a figure is not known; their high water is the best there is (what
-- reports carried until now).
update usage_hourly set
  storage_close      = nullif(storage_high_water, 0),
  repositories_close = nullif(repositories_high_water, 0),
  manifests_close    = nullif(manifests_high_water, 0);
update usage_daily set
  storage_close      = nullif(storage_high_water, 0),
  repositories_close = nullif(repositories_high_water, 0),
  manifests_close    = nullif(manifests_high_water, 0);
