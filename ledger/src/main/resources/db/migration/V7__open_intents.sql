-- The intents Redis holds (qp:{T}:commits, see the metering store's intend.lua): requests about to make the
-- registry store or delete something, open until their outcome is recorded. Journalled through the event
-- stream (intent_opened, intent_closed) so that a namespace restored after Redis lost its data gets them back:
-- the request of one whose proxy died is then settled by asking the registry, as if Redis had kept it.
-- (V4 was never used: versions go on from the highest.)
create table open_intents (
  namespace  text not null,
  request_id text not null,
  what       text not null,
  repository text not null,
  digest     text not null,
  session_id text not null default '',
  size       bigint not null default -1,   -- the manifest's size for commit_manifest, -1 for none
  refs       text not null default '',     -- "digest:size,..." as charged, for commit_manifest
  opened_at  timestamptz not null,
  primary key (namespace, request_id)
);
