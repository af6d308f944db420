-- meter: adds one request's traffic to the hourly counters and to the egress windows.
-- KEYS    common layout; SCOPE_KEYS are egress:S; then traffic:H (the hour bucket)
-- ARGV    common layout (its user: '' for none), then: ingress bytes, egress bytes, pushes, pulls,
--         seconds the hour bucket lives after its last write, the hour (epoch seconds of its start)
-- Result  0
-- Counters <scope>|ingress, |egress, |pushes, |pulls of every scope, and user:<name>|... of the user,
-- grow in traffic:H. Egress bytes also grow the current window counter of each scope that has an
-- egress limit (scopes without one are not counted); the counter expires when its window ends.
-- Event: traffic, with the four numbers and the hour.

local TRAFFIC = KEYS[EXTRA_KEYS + 1]
local user = USER
local counters = {
  { 'ingress', tonumber(ARGV[EXTRA_ARGV + 1]) },
  { 'egress', tonumber(ARGV[EXTRA_ARGV + 2]) },
  { 'pushes', tonumber(ARGV[EXTRA_ARGV + 3]) },
  { 'pulls', tonumber(ARGV[EXTRA_ARGV + 4]) },
}
local retention = ARGV[EXTRA_ARGV + 5]
local hour = ARGV[EXTRA_ARGV + 6]
local egress = counters[2][2]

local wrote = false
local function count(owner)
  for _, counter in ipairs(counters) do
    if counter[2] ~= 0 then
      redis.call('HINCRBY', TRAFFIC, owner .. '|' .. counter[1], int(counter[2]))
      wrote = true
    end
  end
end
for i = 1, SCOPE_COUNT do
  count(SCOPES[i])
end
if user ~= '' then
  count('user:' .. user)
end
if wrote then
  redis.call('EXPIRE', TRAFFIC, retention)
  emit('traffic', { 'ingress', int(counters[1][2]), 'egress', int(counters[2][2]),
    'pushes', int(counters[3][2]), 'pulls', int(counters[4][2]), 'hour', hour })
end

if egress > 0 then
  local now = now_ms()
  for i = 1, SCOPE_COUNT do
    local _, _, limit, seconds = limits_of(SCOPES[i])
    if limit ~= -1 then
      local window, window_end = egress_window(now, seconds)
      if redis.call('HGET', SCOPE_KEYS[i], 'window') == window then
        redis.call('HINCRBY', SCOPE_KEYS[i], 'bytes', int(egress))
      else
        redis.call('HSET', SCOPE_KEYS[i], 'window', window, 'bytes', int(egress))
      end
      redis.call('PEXPIREAT', SCOPE_KEYS[i], int(window_end))
    end
  end
end
return 0
