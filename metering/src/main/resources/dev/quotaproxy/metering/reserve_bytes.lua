-- reserve_bytes: reserves for a request the same number of bytes in every scope of a repository's path, all or nothing.
-- KEYS    common layout; SCOPE_KEYS are present:S (unused here); then recovering, links:R (see common.lua)
-- ARGV    common layout, then: request id, session id ('' for none), repository, min bytes, max bytes, TTL ms
-- Result  UNKNOWN (-1) when the namespace's state is not known, changing nothing; otherwise
--         {1, granted, slot...} with granted = min(max, smallest headroom) >= min, where headroom = hard - used -
--         reserved, and the count slots the reservation holds (see Counts in common.lua; keep.lua holds them again
--         if Redis loses them while the request goes on);
--         {0, i, used, reserved, hard, min, held} when scope i (1-based, outermost first) is the first that does not
--         fit; held = what the request and its session already hold there together;
--         {4} while the namespace is recovering (see common.lua): nothing is granted or changed; ask again shortly;
--         {2} when the request id is retired (released whole, settled or committed): nothing is granted or changed;
--         {0, i, count, in flight, hard, 1, 0, 'repositories', repository} when the repository links nothing yet and
--         a new one does not fit scope i's repositories_hard (see Counts in common.lua): nothing is granted.
-- With min = max = 0 (a commit that brings no bytes of its own: an empty blob, or the empty closing PUT of a session
-- holding its bytes) nothing is granted and no byte limit refuses: only a repository that links nothing yet needs
-- its slot, held or refused as for any grant (an empty blob links the repository as well as any other).
-- A grant adds to every scope's reserved bytes, to the reservation's amounts and total, and renews its expiry;
-- a grant of 0 creates no reservation (it only renews one that exists). A grant into a repository that links
-- nothing yet holds its repository slot (taken, or joined when others hold it) with the reservation.

local id, session, repository = ARGV[EXTRA_ARGV + 1], ARGV[EXTRA_ARGV + 2], ARGV[EXTRA_ARGV + 3]
local min, max, ttl = tonumber(ARGV[EXTRA_ARGV + 4]), tonumber(ARGV[EXTRA_ARGV + 5]), tonumber(ARGV[EXTRA_ARGV + 6])
local refusal, now = reserving_start(id, true)
if refusal then
  return refusal
end

local function fits(headroom)
  return max == 0 or headroom >= min
end

local slot_refused, slots = slots_needed(KEYS[EXTRA_KEYS + 2], nil, nil)
if slot_refused then
  return slot_refused
end

local granted = max
for i = 1, SCOPE_COUNT do
  local used, reserved = usage_of(SCOPES[i])
  local hard = limits_of(SCOPES[i])
  if hard ~= -1 then
    local headroom = hard - used - reserved
    if not fits(headroom) then
      return { 0, i, used, reserved, hard, min, held_by(id, SCOPES[i]) + held_by(session, SCOPES[i]) }
    end
    if headroom < granted then
      granted = headroom
    end
  end
end

local existing = load_reservation(id)
if granted == 0 and not existing and #slots == 0 then
  -- An empty grant: nothing to hold, so no reservation is left behind.
  return { 1, 0 }
end
local reservation = existing or { repo = repository, total = 0, amounts = {}, slots = {} }
hold_slots(id, reservation, slots)
if granted > 0 then
  for i = 1, SCOPE_COUNT do
    add(RESERVED, SCOPES[i], granted)
    reservation.amounts[SCOPES[i]] = (reservation.amounts[SCOPES[i]] or 0) + granted
  end
  reservation.total = reservation.total + granted
end
store_reservation(id, reservation)
set_expiry(id, now + ttl)
return granted_with_slots({ 1, granted }, reservation)
