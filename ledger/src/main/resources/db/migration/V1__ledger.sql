-- The durable record of usage. Redis holds the hot state; this holds the truth it is rebuilt from and
-- reconciled against. Sizes are bytes (bigint); times are UTC.

-- Every event applied, by its id: a redelivered event finds its id here and changes nothing.
create table ledger_events (
  event_id    text primary key,
  namespace   text not null,
  stream_id   text not null,
  type        text not null,
  occurred_at timestamptz not null,
  applied_at  timestamptz not null default now()
);
create index ledger_events_namespace on ledger_events (namespace, applied_at);

-- The newest stream entry applied per namespace. A Redis whose stream for a namespace ends before it
-- was restored from an older copy and must be rebuilt.
create table namespace_progress (
  namespace      text primary key,
  last_stream_ms bigint not null,
  last_stream_seq bigint not null
);

create table blobs (
  digest text primary key,
  size   bigint not null check (size >= 0)
);

-- Which repositories hold which blobs (layers, configs and manifests alike).
create table repository_blobs (
  repository text not null,
  digest     text not null references blobs (digest),
  linked_at  timestamptz not null,
  primary key (repository, digest)
);
create index repository_blobs_digest on repository_blobs (digest);
create index repository_blobs_repository_prefix on repository_blobs (repository text_pattern_ops);

create table manifests (
  repository text not null,
  digest     text not null,
  pushed_at  timestamptz not null,
  pushed_by  text not null,
  primary key (repository, digest)
);

-- What each manifest references, for delete accounting: a blob leaves a repository when no manifest
-- of it references the blob any more.
create table manifest_references (
  repository      text not null,
  manifest_digest text not null,
  digest          text not null,
  primary key (repository, manifest_digest, digest),
  foreign key (repository, manifest_digest) references manifests (repository, digest) on delete cascade
);
create index manifest_references_digest on manifest_references (repository, digest);

-- Committed storage of every scope (a repository and each of its ancestors), kept by the events.
create table scope_usage (
  scope      text primary key,
  used_bytes bigint not null check (used_bytes >= 0),
  updated_at timestamptz not null
);

-- Per scope and hour: the highest storage seen, and the traffic.
create table usage_hourly (
  scope             text not null,
  hour              timestamptz not null,
  storage_high_water bigint not null default 0,
  ingress_bytes     bigint not null default 0,
  egress_bytes      bigint not null default 0,
  pushes            bigint not null default 0,
  pulls             bigint not null default 0,
  primary key (scope, hour)
);
create index usage_hourly_hour on usage_hourly (hour);

-- Per user, repository and hour: the traffic a user caused (reports cut by user, repository or scope).
create table user_traffic_hourly (
  user_name     text not null,
  repository    text not null,
  hour          timestamptz not null,
  ingress_bytes bigint not null default 0,
  egress_bytes  bigint not null default 0,
  pushes        bigint not null default 0,
  pulls         bigint not null default 0,
  primary key (user_name, repository, hour)
);
create index user_traffic_hourly_hour on user_traffic_hourly (hour);
create index user_traffic_hourly_repository on user_traffic_hourly (repository text_pattern_ops, hour);

-- Hourly rows older than the retention period, rolled up to days.
create table usage_daily (
  scope              text not null,
  day                date not null,
  storage_high_water bigint not null default 0,
  ingress_bytes      bigint not null default 0,
  egress_bytes       bigint not null default 0,
  pushes             bigint not null default 0,
  pulls              bigint not null default 0,
  primary key (scope, day)
);

create table user_traffic_daily (
  user_name     text not null,
  repository    text not null,
  day           date not null,
  ingress_bytes bigint not null default 0,
  egress_bytes  bigint not null default 0,
  pushes        bigint not null default 0,
  pulls         bigint not null default 0,
  primary key (user_name, repository, day)
);

create table rejections (
  id          bigserial primary key,
  event_id    text not null unique,
  occurred_at timestamptz not null,
  repository  text not null,
  scope       text not null,
  user_name   text not null,
  resource    text not null,
  requested   bigint not null,
  usage       bigint not null,
  limit_bytes bigint not null,
  reason      text not null
);
create index rejections_scope_time on rejections (scope, occurred_at);

create table scope_limits (
  scope                 text primary key,
  storage_hard          bigint not null default -1,
  storage_soft          bigint not null default -1,
  egress                bigint not null default -1,
  egress_window_seconds bigint not null default 3600,
  updated_at            timestamptz not null default now(),
  updated_by            text not null default 'configuration'
);

create table system_settings (
  id               smallint primary key default 1 check (id = 1),
  hard_storage     bigint not null default -1,
  write_ratio      double precision not null default 1.0,
  read_only_forced boolean not null default false,
  allow_overcommit boolean not null default false,
  retention_days   integer not null default 30,
  updated_at       timestamptz not null default now(),
  updated_by       text not null default 'configuration'
);

-- Who changed a limit or a setting, when, from what to what.
create table audit_log (
  id         bigserial primary key,
  at         timestamptz not null default now(),
  actor      text not null,
  action     text not null,
  subject    text not null,
  before     jsonb,
  after      jsonb
);
create index audit_log_at on audit_log (at);

-- Reconciliation runs and what they found, per scope.
create table reconciliations (
  id          bigserial primary key,
  kind        text not null,            -- 'registry' (Postgres against the registry), 'redis' (Redis against Postgres), 'backfill'
  started_at  timestamptz not null default now(),
  finished_at timestamptz,
  status      text not null default 'running',
  resume_after text                      -- last repository walked, to resume an interrupted walk
);

create table drift (
  reconciliation_id bigint not null references reconciliations (id) on delete cascade,
  scope             text not null,
  expected_bytes    bigint not null,   -- what the ledger (or Redis) held
  found_bytes       bigint not null,   -- what the registry (or Postgres) showed
  corrected         boolean not null default false,
  primary key (reconciliation_id, scope)
);

-- The identity of the Redis state the ledger knows: a Redis that comes back without it (empty, or
-- restored from an older copy) is rebuilt from these tables before pushes are accepted again.
create table redis_state (
  id         smallint primary key default 1 check (id = 1),
  epoch      text not null,
  written_at timestamptz not null default now()
);
