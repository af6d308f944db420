-- reserve_blobs: reserves for a request, in each scope of the path, the size of the blobs absent from that scope.
-- KEYS    common layout; SCOPE_KEYS are present:S; then recovering, links:R, manifests:R (see common.lua)
-- ARGV    common layout, then: request id, repository, TTL ms, the manifest's digest for a manifest PUT ('' for a
--         mount), and digest, size pairs (a repeated digest counts once)
-- Result  UNKNOWN (-1) when the namespace's state is not known, changing nothing; otherwise
--         {1, need of the innermost scope, slot...}, having added each scope's need to its reserved bytes and to the
--         reservation's amounts (its total unchanged) and renewed its expiry; then the count slots the reservation
--         holds (see reserve_bytes);
--         {0, i, used, reserved, hard, need, held} when scope i (outermost first) needs bytes and
--         used + reserved + need > hard; held = what this reservation already holds there;
--         {4} while the namespace is recovering (see common.lua): nothing is granted or changed; ask again shortly;
--         {2} when the request id is retired (released whole or committed): nothing is reserved;
--         {3, digest, known size, given size} for the first blob whose size sizes knows and the size given
--         differs: nothing is reserved;
--         {0, i, count, in flight, hard, 1, 0, kind, subject} when a count slot does not fit scope i (see Counts in
--         common.lua): the repository's (kind 'repositories', subject R) when it links nothing yet, or the
--         manifest's ('manifests', R@M) when it is new to the repository; nothing is reserved.
-- Each blob counts at the size sizes knows for it, or the size given when it knows none. A scope that needs
-- nothing never refuses, even when over its limit. The slots needed are held with the reservation.

local id, repository, ttl = ARGV[EXTRA_ARGV + 1], ARGV[EXTRA_ARGV + 2], tonumber(ARGV[EXTRA_ARGV + 3])
local refusal, now = reserving_start(id, true)
if refusal then
  return refusal
end

local blobs, seen = {}, {}
for j = EXTRA_ARGV + 5, #ARGV - 1, 2 do
  local digest, size = ARGV[j], tonumber(ARGV[j + 1])
  if not seen[digest] then
    seen[digest] = true
    local known_size = redis.call('HGET', SIZES, digest)
    if known_size and tonumber(known_size) ~= size then
      return { 3, digest, tonumber(known_size), size }
    end
    blobs[#blobs + 1] = { digest, size }
  end
end

local need = {}
for i = 1, SCOPE_COUNT do
  need[i] = 0
  for _, blob in ipairs(blobs) do
    if redis.call('HEXISTS', SCOPE_KEYS[i], blob[1]) == 0 then
      need[i] = need[i] + blob[2]
    end
  end
end

local slot_refused, slots = slots_needed(KEYS[EXTRA_KEYS + 2], KEYS[EXTRA_KEYS + 3], ARGV[EXTRA_ARGV + 4])
if slot_refused then
  return slot_refused
end

for i = 1, SCOPE_COUNT do
  if need[i] > 0 then
    local used, reserved = usage_of(SCOPES[i])
    local hard = limits_of(SCOPES[i])
    if hard ~= -1 and used + reserved + need[i] > hard then
      return { 0, i, used, reserved, hard, need[i], held_by(id, SCOPES[i]) }
    end
  end
end

local reservation = load_reservation(id) or { repo = repository, total = 0, amounts = {}, slots = {} }
hold_slots(id, reservation, slots)
for i = 1, SCOPE_COUNT do
  if need[i] > 0 then
    add(RESERVED, SCOPES[i], need[i])
    reservation.amounts[SCOPES[i]] = (reservation.amounts[SCOPES[i]] or 0) + need[i]
  end
end
store_reservation(id, reservation)
set_expiry(id, now + ttl)
return granted_with_slots({ 1, need[SCOPE_COUNT] }, reservation)
