-- drop_manifest: the registry deleted a manifest from the repository.
-- KEYS    common layout; SCOPE_KEYS are present:S; then manifests:R, refs:R:M, refcount:R, freed, links:R (see remove_blob)
-- ARGV    common layout, then: manifest digest M, the deleting request's id ('' for none), whose intent (intend.lua) ends
-- Result  UNKNOWN (-1) when the namespace's state is not known, changing nothing; otherwise
--         states... (path_states after the change)
-- If M is a manifest of R: it leaves manifests:R (and every scope's manifests count), each digest it references
-- loses one count in refcount:R,
-- and refs:R:M is deleted. Then leave R (as drop_blob): M itself unless another manifest (an index) still
-- references it, and each digest whose count reached 0 unless it is itself a manifest still in R.
-- If M is not a manifest of R, it is dropped as a plain blob.
-- Events: manifest_removed, then blob_removed for each blob that left the repository.

local MANIFESTS, REFS, REFCOUNT, FREED, LINKS = KEYS[EXTRA_KEYS + 1], KEYS[EXTRA_KEYS + 2], KEYS[EXTRA_KEYS + 3], KEYS[EXTRA_KEYS + 4],
  KEYS[EXTRA_KEYS + 5]
local manifest = ARGV[EXTRA_ARGV + 1]
local request = ARGV[EXTRA_ARGV + 2] or ''
if dropping_start(request) then
  return UNKNOWN
end

if redis.call('SREM', MANIFESTS, manifest) == 0 then
  remove_blob(manifest, FREED, LINKS)
  return path_states()
end

emit('manifest_removed', { 'digest', manifest })
manifest_counted(manifest, -1)
local unreferenced = {}
for _, digest in ipairs(redis.call('SMEMBERS', REFS)) do
  if add(REFCOUNT, digest, -1) <= 0 then
    unreferenced[#unreferenced + 1] = digest
  end
end
redis.call('DEL', REFS)

if num(redis.call('HGET', REFCOUNT, manifest), 0) <= 0 then
  remove_blob(manifest, FREED, LINKS)
end
for _, digest in ipairs(unreferenced) do
  if redis.call('SISMEMBER', MANIFESTS, digest) == 0 then
    remove_blob(digest, FREED, LINKS)
  end
end
return path_states()
