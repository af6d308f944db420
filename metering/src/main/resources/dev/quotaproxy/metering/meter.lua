-- meter: adds one request's traffic to the hourly counters.
-- KEYS    common layout; SCOPE_KEYS are present:S (unused here); then traffic:H (the hour bucket)
-- ARGV    common layout (its user: '' for none), then: ingress bytes, egress bytes, pushes, pulls,
--         seconds the hour bucket lives after its last write, the hour (epoch seconds of its start)
-- Result  0
-- Counters <scope>|ingress, |egress, |pushes, |pulls of every scope, and user:<name>|... of the user,
-- grow in traffic:H. Egress windows are not touched: reserve_egress and settle_egress keep them, so a pull's
-- bytes are counted in its window once.
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

return 0
