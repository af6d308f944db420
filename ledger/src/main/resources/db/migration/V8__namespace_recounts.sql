-- Namespaces whose links a registry reconciliation changed. Events written before the change may still be
-- on their way to the ledger, and their charges and frees may be ones the reconciliation already made (a
-- blob it dropped that an event then frees again). Until the ledger has applied a stream entry newer than
-- until_ms, a batch of such a namespace recounts its usage from the links instead of replaying charges.
create table namespace_recounts (
  namespace text primary key,
  until_ms  bigint not null
);
