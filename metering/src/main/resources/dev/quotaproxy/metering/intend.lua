-- intend: a request is about to make the registry change what it stores (a closing PUT or monolithic upload
-- that commits a blob, a DELETE of a blob or a manifest): once the registry has done it, the proxy must
-- account for it even if it dies, or its store call fails, before it can.
-- KEYS    common layout with no scopes; COMMITS is where intents are kept
-- ARGV    common layout (n = 0), then: request id, what (commit, commit_manifest, drop_blob or drop_manifest),
--         repository, digest, session id ('' for none), lease ms, and for commit_manifest: the manifest's size and
--         its references as charged ("digest:size,...", '' for none)
-- Result  1.
-- Events  intent_opened (request, what, digest, session, size, refs; repo the repository) while the namespace's
--         state is known: the ledger keeps the namespace's open intents and a restore brings them back, so
--         Redis losing its data does not lose the intent of a request whose proxy died. With the state unknown
--         nothing is appended (its number would not be the ledger's next); the proxy's own copy of the intent
--         (LiveReservations) covers the request while it lives.
-- The intent ({what, repo, digest, session, until}) lasts until the request's id is retired (commit_blob,
-- release, settle: see tombstone in common.lua) or its drop is recorded (drop_blob, drop_manifest), its lease
-- renewed by keep.lua while the request goes on. One whose lease ran out belongs to a request whose proxy
-- died, or whose accounting failed: RegistryIntents asks the registry what it holds, and accounts for it.

local id, what, repository, digest, session, lease = ARGV[EXTRA_ARGV + 1], ARGV[EXTRA_ARGV + 2], ARGV[EXTRA_ARGV + 3],
  ARGV[EXTRA_ARGV + 4], ARGV[EXTRA_ARGV + 5], tonumber(ARGV[EXTRA_ARGV + 6])
local size, refs = ARGV[EXTRA_ARGV + 7] or '', ARGV[EXTRA_ARGV + 8] or ''
redis.call('HSET', COMMITS, id, cjson.encode({ what = what, repo = repository, digest = digest, session = session,
  size = size, refs = refs, ['until'] = int(now_ms() + lease) }))
if known() then
  emit('intent_opened', { 'request', id, 'what', what, 'digest', digest, 'session', session, 'size', size, 'refs', refs },
    repository)
end
return 1
