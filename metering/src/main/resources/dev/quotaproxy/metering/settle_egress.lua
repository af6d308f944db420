-- settle_egress: a pull is over; its egress counters are corrected from the bytes reserved to the bytes sent.
-- KEYS    common layout; SCOPE_KEYS are egress:S
-- ARGV    common layout (the path), then: bytes reserved, bytes sent, and one window name per scope (as reserve_egress
--         returned them; '' for a scope it reserved nothing in)
-- Result  0
-- Each scope whose counter is still at the grant's window gets sent - reserved added, never going below 0. A counter
-- that moved to a later window is left alone: the grant's window is over, and its bytes do not belong to the next.

local reserved, sent = tonumber(ARGV[EXTRA_ARGV + 1]), tonumber(ARGV[EXTRA_ARGV + 2])
local diff = sent - reserved
if diff == 0 then
  return 0
end
for i = 1, SCOPE_COUNT do
  local window = ARGV[EXTRA_ARGV + 2 + i]
  if window ~= '' and redis.call('HGET', SCOPE_KEYS[i], 'window') == window then
    if redis.call('HINCRBY', SCOPE_KEYS[i], 'bytes', int(diff)) < 0 then
      redis.call('HSET', SCOPE_KEYS[i], 'bytes', '0')
    end
  end
end
return 0
