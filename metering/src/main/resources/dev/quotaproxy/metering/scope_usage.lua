-- scope_usage: one scope's usage, limits and egress in its current window, after purging expired
-- reservations of its namespace. For the usage API; decides nothing.
-- KEYS    common layout with one scope; SCOPE_KEYS[1] is egress:S
-- ARGV    common layout: 1, '', 0, scope
-- Result  {known (1 or 0), used, reserved, hard, soft, egress, egress window seconds, egress used}

local now = now_ms()
if known() then
  purge_expired(now)
end
local out = { known() and 1 or 0 }
path_states(out)
local _, _, _, seconds = limits_of(SCOPES[1])
local window = egress_window(now, seconds)
local counter = redis.call('HMGET', SCOPE_KEYS[1], 'window', 'bytes')
local egress_used = 0
if counter[1] == window then
  egress_used = num(counter[2], 0)
end
out[#out + 1] = egress_used
return out
