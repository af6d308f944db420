-- open_session: the registry opened an upload session; it is recorded unless a scope of the path is full.
-- KEYS    common layout; SCOPE_KEYS are present:S (unused here); then links:R
-- ARGV    common layout, then: session id, repository, TTL ms
-- Result  UNKNOWN (-1) when the namespace's state is not known, changing nothing; otherwise
--         {1, 0} having recorded the session (holding nothing, clean) unless it was already, and renewed its expiry;
--         {0, i, used, reserved, hard, 0, held} when scope i (1-based, outermost first) is the first with
--         used + reserved >= hard (as reserve_bytes with min = max = 0); held = what the session holds there;
--         {2} when the session id is retired (committed, cancelled, or released after an open that failed in the
--         proxy): nothing is recorded;
--         {0, i, count, in flight, hard, 1, 0, 'repositories', repository} when the repository links nothing yet, no
--         push holds its slot, and scope i has no room for a new one (as reserve_bytes would refuse its first bytes):
--         nothing is recorded. An open session takes no slot (see Counts in common.lua): one opened and abandoned
--         holds nothing, as it holds no bytes; its first bytes take the slot.

local id, repository, ttl = ARGV[EXTRA_ARGV + 1], ARGV[EXTRA_ARGV + 2], tonumber(ARGV[EXTRA_ARGV + 3])
local refusal, now = reserving_start(id, false)
if refusal then
  return refusal
end

for i = 1, SCOPE_COUNT do
  local used, reserved = usage_of(SCOPES[i])
  local hard = limits_of(SCOPES[i])
  if hard ~= -1 and used + reserved >= hard then
    return { 0, i, used, reserved, hard, 0, held_by(id, SCOPES[i]) }
  end
end

local slot_refused = slots_needed(KEYS[EXTRA_KEYS + 1], nil, nil)
if slot_refused then
  return slot_refused
end

if not load_reservation(id) then
  store_reservation(id, { repo = repository, total = 0, amounts = {}, dirty = false })
end
set_expiry(id, now + ttl)
return { 1, 0 }
