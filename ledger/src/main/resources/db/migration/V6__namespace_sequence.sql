-- Every event a namespace's Redis state appends carries the next number of that namespace's sequence
-- (qp:{T}:sequence). The ledger keeps the highest it applied: an event it has not seen that is newer in
-- time but not in number was appended by a Redis that came back with older state (an older snapshot,
-- a truncated AOF), which the stream's time-based ids alone cannot reveal once a write has landed.
-- 0: nothing numbered applied yet (events written before numbering carry none).
alter table namespace_progress add column last_sequence bigint not null default 0;
