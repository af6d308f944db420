-- meter: adds one request's traffic to the hourly counters and to the egress windows.
-- KEYS    common layout; SCOPE_KEYS are egress:S; then traffic:H (the hour bucket)
-- ARGV    common layout, then: user ('' for none), ingress bytes, egress bytes, pushes, pulls,
--         seconds the hour bucket lives after its last write
-- Result  0
-- Counters <scope>|ingress, |egress, |pushes, |pulls of every scope, and user:<name>|... of the user,
-- grow in traffic:H. Egress bytes also grow the current window counter of each scope that has an
-- egress limit (scopes without one are not counted); the counter expires when its window ends.

local TRAFFIC = KEYS[EXTRA_KEYS + 1]
local user = ARGV[EXTRA_ARGV + 1]
local counters = {
  { 'ingress', tonumber(ARGV[EXTRA_ARGV + 2]) },
  { 'egress', tonumber(ARGV[EXTRA_ARGV + 3]) },
  { 'pushes', tonumber(ARGV[EXTRA_ARGV + 4]) },
  { 'pulls', tonumber(ARGV[EXTRA_ARGV + 5]) },
}
local retention = ARGV[EXTRA_ARGV + 6]
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
