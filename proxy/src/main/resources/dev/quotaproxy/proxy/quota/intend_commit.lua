-- intend_commit: a request is about to send the registry a closing PUT (or a monolithic upload): once the
-- registry answers 201 the blob is stored, and the proxy must charge it even if it dies before it can.
-- KEYS    common layout with no scopes; COMMITS is where intents are kept
-- ARGV    common layout (n = 0), then: request id, repository, digest, session id ('' for none), lease ms
-- Result  1.
-- The intent ({repo, digest, session, until}) lasts until the request's id is retired (commit_blob, release,
-- settle: see tombstone in common.lua), its lease renewed by keep.lua while the request goes on. One whose
-- lease ran out belongs to a proxy that died: CommitIntents asks the registry whether the blob is there,
-- and charges it (commit_blob) or drops the intent (release).

local id, repository, digest, session, lease =
  ARGV[EXTRA_ARGV + 1], ARGV[EXTRA_ARGV + 2], ARGV[EXTRA_ARGV + 3], ARGV[EXTRA_ARGV + 4], tonumber(ARGV[EXTRA_ARGV + 5])
redis.call('HSET', COMMITS, id,
  cjson.encode({ repo = repository, digest = digest, session = session, ['until'] = int(now_ms() + lease) }))
return 1
