-- Retention forgets event ids by when they were applied (delete ... where applied_at < cutoff). Every
-- request's traffic is an event, so the table holds a retention period of requests: without this index
-- each daily prune reads all of it.
create index ledger_events_applied_at on ledger_events (applied_at);
