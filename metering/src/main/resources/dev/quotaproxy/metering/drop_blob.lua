-- drop_blob: the registry unlinked a blob from the repository.
-- KEYS    common layout; SCOPE_KEYS are present:S; then manifests:R, refcount:R, freed, links:R (see remove_blob)
-- ARGV    common layout, then: digest, the deleting request's id ('' for none), whose intent (intend.lua) ends
-- Result  UNKNOWN (-1) when the namespace's state is not known, changing nothing; otherwise
--         states... (path_states after the change)
-- A blob a manifest of the repository still references (refcount:R > 0), or that is itself a manifest of it
-- (in manifests:R), stays charged: the registry's garbage collection keeps it, so nothing changes; the
-- drop_manifest that leaves it unreferenced removes it. Otherwise, if the repository links the blob (links:R), each scope's
-- count of repositories holding it drops by one; where it reaches 0 the blob's size leaves that scope's used
-- bytes, and a blob_removed event names those scopes. A blob the repository does not hold changes nothing.

local MANIFESTS, REFCOUNT, FREED, LINKS = KEYS[EXTRA_KEYS + 1], KEYS[EXTRA_KEYS + 2], KEYS[EXTRA_KEYS + 3], KEYS[EXTRA_KEYS + 4]
local digest = ARGV[EXTRA_ARGV + 1]
local request = ARGV[EXTRA_ARGV + 2] or ''
if dropping_start(request) then
  return UNKNOWN
end
if num(redis.call('HGET', REFCOUNT, digest), 0) <= 0 and redis.call('SISMEMBER', MANIFESTS, digest) == 0 then
  remove_blob(digest, FREED, LINKS)
end
return path_states()
