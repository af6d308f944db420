-- Quota events and their webhook deliveries (README, "Quota events").
--
-- quota_events is an outbox: the ledger writes a row in the same transaction that applies the event it
-- comes from (a refusal, a soft limit crossed), so an event exists exactly when its cause is recorded, and
-- never on the request path. The delivery worker fans each row out to the endpoints configured for it
-- (webhook_deliveries) and sends them, every attempt kept in webhook_attempts.
create table quota_events (
  id          bigserial primary key,
  event_uuid  uuid not null unique default gen_random_uuid(),
  type        text not null,           -- QUOTA_WARNING, QUOTA_EXCEEDED, READ_ONLY, WRITABLE, EGRESS_LIMITED
  scope       text not null,           -- '' for the system scope
  occurred_at timestamptz not null,
  payload     jsonb not null,          -- the event's data, as the webhook body carries it
  -- At most one event per key: the ledger event it came from, or an egress window of a scope.
  dedupe_key  text unique,
  fanned_out  boolean not null default false,
  created_at  timestamptz not null default now()
);
create index quota_events_unfanned on quota_events (id) where not fanned_out;

create table webhook_deliveries (
  id              bigserial primary key,
  event_id        bigint not null references quota_events (id) on delete cascade,
  endpoint        text not null,       -- the endpoint's name in the configuration
  url             text not null,
  state           text not null default 'pending',   -- pending, delivered, failed
  attempts        integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  last_status     integer,
  last_error      text,
  created_at      timestamptz not null default now(),
  finished_at     timestamptz,
  unique (event_id, endpoint)
);
create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where state = 'pending';
create index webhook_deliveries_created on webhook_deliveries (created_at);

create table webhook_attempts (
  delivery_id bigint not null references webhook_deliveries (id) on delete cascade,
  attempt     integer not null,
  at          timestamptz not null,
  status      integer,                 -- the receiver's HTTP status; null when no answer came
  error       text,                    -- why the attempt failed; null when it succeeded
  duration_ms bigint not null,
  primary key (delivery_id, attempt)
);

-- The system's read-only state as events last announced it: READ_ONLY and WRITABLE fire when it flips.
create table quota_event_state (
  id        smallint primary key default 1 check (id = 1),
  read_only boolean not null,
  changed_at timestamptz not null default now()
);
