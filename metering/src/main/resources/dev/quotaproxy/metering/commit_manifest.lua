-- commit_manifest: the registry accepted a manifest; it and its references become used where absent.
-- KEYS    common layout; SCOPE_KEYS are present:S; then manifests:R, refs:R:M, refcount:R, freed, links:R (see common.lua)
-- ARGV    common layout, then: request id, manifest digest, manifest size, TTL ms, for a commit settled late from
--         an intent when its request ended (ms; '' otherwise), and digest, size pairs of the blobs it references
--         (a repeated digest counts once)
-- Result  UNKNOWN (-1) when the namespace's state is not known, changing nothing; otherwise
--         {1, manifest size charged, states...}
-- Each blob, the manifest included, is charged at the size sizes knows for it when it knows one (as commit_blob).
-- A manifest new to the repository is added to manifests:R, its references stored in refs:R:M and each
-- counted once in refcount:R, and it counts in every scope's manifests (its slot used, see Counts in
-- common.lua); re-putting a known manifest (another tag) changes no count. The request's
-- reservation is released whole and retired either way. Events: blob_added for each blob new to the
-- repository, and manifest_added (with its references) for a manifest new to it. A late commit whose manifest
-- the repository freed since its request ended changes nothing but the request's reservation.

local MANIFESTS, REFS, REFCOUNT = KEYS[EXTRA_KEYS + 1], KEYS[EXTRA_KEYS + 2], KEYS[EXTRA_KEYS + 3]
local request, manifest, size = ARGV[EXTRA_ARGV + 1], ARGV[EXTRA_ARGV + 2], tonumber(ARGV[EXTRA_ARGV + 3])
local ttl = tonumber(ARGV[EXTRA_ARGV + 4])
local FREED, LINKS = KEYS[EXTRA_KEYS + 4], KEYS[EXTRA_KEYS + 5]
if not known() then
  return UNKNOWN
end
local now = now_ms()
purge_expired(now)

if freed_since(FREED, manifest, ARGV[EXTRA_ARGV + 5]) then
  retire(request, now + ttl)
  return path_states({ 1, 0 })
end
local charged = add_blob(manifest, size, LINKS)
local references, seen = {}, {}
for j = EXTRA_ARGV + 6, #ARGV - 1, 2 do
  local digest = ARGV[j]
  if not seen[digest] then
    seen[digest] = true
    references[#references + 1] = digest
    add_blob(digest, tonumber(ARGV[j + 1]), LINKS)
  end
end

if redis.call('SADD', MANIFESTS, manifest) == 1 then
  for _, digest in ipairs(references) do
    redis.call('SADD', REFS, digest)
    redis.call('HINCRBY', REFCOUNT, digest, 1)
  end
  emit('manifest_added', { 'digest', manifest, 'refs', table.concat(references, ',') })
  manifest_counted(manifest, 1)
end

retire(request, now + ttl)
return path_states({ 1, charged })
