-- reserve_blobs: reserves, in each scope of the path, the size of the blobs absent from that scope.
-- KEYS    common layout; SCOPE_KEYS are present:S
-- ARGV    common layout, then: reservation id, repository, TTL ms, and digest, size pairs (a repeated digest counts once)
-- Result  UNKNOWN (-1) when the namespace's state is not known, changing nothing; otherwise
--         {1, need of the innermost scope}, having added each scope's need to its reserved bytes and to the
--         reservation's amounts (its session total unchanged) and renewed its expiry;
--         {0, i, used, reserved, hard, need, held} when scope i (outermost first) needs bytes and
--         used + reserved + need > hard; held = what this reservation already holds there.
-- A scope that needs nothing never refuses, even when over its limit.

local id, repository, ttl = ARGV[EXTRA_ARGV + 1], ARGV[EXTRA_ARGV + 2], tonumber(ARGV[EXTRA_ARGV + 3])
if not known() then
  return UNKNOWN
end
local now = now_ms()
purge_expired(now)

local need, seen = {}, {}
for i = 1, SCOPE_COUNT do
  need[i] = 0
end
for j = EXTRA_ARGV + 4, #ARGV - 1, 2 do
  local digest, size = ARGV[j], tonumber(ARGV[j + 1])
  if not seen[digest] then
    seen[digest] = true
    for i = 1, SCOPE_COUNT do
      if redis.call('HEXISTS', SCOPE_KEYS[i], digest) == 0 then
        need[i] = need[i] + size
      end
    end
  end
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

local reservation = load_reservation(id) or { repo = repository, total = 0, amounts = {} }
for i = 1, SCOPE_COUNT do
  if need[i] > 0 then
    add(RESERVED, SCOPES[i], need[i])
    reservation.amounts[SCOPES[i]] = (reservation.amounts[SCOPES[i]] or 0) + need[i]
  end
end
store_reservation(id, reservation)
set_expiry(id, now + ttl)
return { 1, need[SCOPE_COUNT] }
