-- commit_blob: the registry accepted a blob; it becomes used where absent, and the request's and the session's
-- reservations end.
-- KEYS    common layout; SCOPE_KEYS are present:S; then freed, links:R (see remove_blob and add_blob in common.lua)
-- ARGV    common layout, then: request id ('' for none), session id ('' for none), digest, size (0 or more), TTL ms,
--         and, for a commit settled late from an intent, when its request ended (ms; '' otherwise)
-- Result  UNKNOWN (-1) when the namespace's state is not known, changing nothing; otherwise
--         {1, size charged, states...} with states = path_states() after the change.
-- The size charged is the one sizes holds for the digest when it holds one (a known size is never overwritten),
-- else the size given, which sizes then records. Every scope where the blob was absent (its count goes 0 -> 1)
-- adds it to used. A blob new to the repository (links:R) is a blob_added event naming those scopes (none when
-- others under the repository's scopes held it already); one the repository linked already changes nothing.
-- Both reservations are released whole and retired, held or not (tombstones expire after the TTL).
-- A late commit whose blob the repository freed since its request ended charges nothing (see freed_since).

local request, session, digest = ARGV[EXTRA_ARGV + 1], ARGV[EXTRA_ARGV + 2], ARGV[EXTRA_ARGV + 3]
local size, ttl = tonumber(ARGV[EXTRA_ARGV + 4]), tonumber(ARGV[EXTRA_ARGV + 5])
if not known() then
  return UNKNOWN
end
local now = now_ms()
purge_expired(now)

local charged = 0
if not freed_since(KEYS[EXTRA_KEYS + 1], digest, ARGV[EXTRA_ARGV + 6]) then
  charged = add_blob(digest, size, KEYS[EXTRA_KEYS + 2])
end
retire(request, now + ttl)
retire(session, now + ttl)
return path_states({ 1, charged })
