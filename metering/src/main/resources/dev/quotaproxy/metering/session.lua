-- session: what the store knows of an upload session, after purging expired reservations of its namespace.
-- KEYS    common layout with no scopes (n = 0)
-- ARGV    common layout (n = 0), then: session id
-- Result  {1, total, dirty (1 or 0)} when the session is recorded; {0, 0, 1} when it is missing or retired.

local id = ARGV[EXTRA_ARGV + 1]
purge_expired(now_ms())
local session = load_reservation(id)
if not session then
  return { 0, 0, 1 }
end
return { 1, session.total, session.dirty and 1 or 0 }
