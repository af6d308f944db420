-- settle: a request of an upload session is over; what the registry stored of it moves into the session.
-- KEYS    common layout with no scopes (n = 0): the request's own amounts say where it holds bytes
-- ARGV    common layout (n = 0), then: request id, session id, repository, stored bytes, dirty (1 or 0), TTL ms
-- Result  {kept, session total, session dirty (1 or 0)} after the change, or {0, -1, 1} when the session id
--         is retired (then nothing is kept).
-- In each scope where the request holds bytes, min(stored, its amount) moves from the request to the session
-- (that scope's reserved bytes unchanged) and the rest is released; kept is the most any scope moved (the
-- request's reserves put the same bytes in every scope of its path). The session's total grows by kept, its
-- dirty flag is set by dirty = 1 or by stored > kept (bytes the registry holds that no reservation covered),
-- and its expiry renews. A missing session is created, dirty: the store did not know it, so it may hold
-- bytes from before. The count slots the request holds pass to the session. A retired session (committed or
-- cancelled meanwhile) takes nothing: everything the request holds is released. The request id is retired in every case, held or missing.

local request, session, repository = ARGV[EXTRA_ARGV + 1], ARGV[EXTRA_ARGV + 2], ARGV[EXTRA_ARGV + 3]
local stored, dirty, ttl = tonumber(ARGV[EXTRA_ARGV + 4]), ARGV[EXTRA_ARGV + 5] == '1', tonumber(ARGV[EXTRA_ARGV + 6])
local now = now_ms()
purge_expired(now)

if is_retired(session) then
  retire(request, now + ttl)
  return { 0, -1, 1 }
end

local held = load_reservation(request)
local target = load_reservation(session) or { repo = repository, total = 0, amounts = {}, dirty = true }
local kept = 0
if held then
  for scope, amount in pairs(held.amounts) do
    local keep = math.min(stored, amount)
    -- The kept bytes stay in RESERVED: they change owner, not scope.
    add(RESERVED, scope, keep - amount)
    target.amounts[scope] = (target.amounts[scope] or 0) + keep
    kept = math.max(kept, keep)
  end
end
-- The session goes on with the request's count slots (see Counts in common.lua).
if held then
  for field in pairs(held.slots) do
    local holders = holders_of(field)
    if holders and holders[request] then
      hold_slot(session, field)
      unhold_slot(request, field)
      target.slots = target.slots or {}
      target.slots[field] = 1
    end
  end
end
-- Its amounts and slots are accounted for above: only the tombstone is left to write.
tombstone(request, now + ttl)

target.total = target.total + kept
target.dirty = target.dirty or dirty or stored > kept
store_reservation(session, target)
set_expiry(session, now + ttl)
return { kept, target.total, target.dirty and 1 or 0 }
