-- put_system: sets the system settings unless a newer revision of them is stored (see put_limits).
-- KEYS    qp:system only (no namespace: the common layout's keys are not used)
-- ARGV    0, '', then hard storage, write ratio, read-only forced (1 or 0), revision
-- Result  1 when written, 0 when a newer revision was there

local SYSTEM = KEYS[1]
local revision = tonumber(ARGV[EXTRA_ARGV + 4])
local stored = num(redis.call('HGET', SYSTEM, 'revision'), -1)
if stored > revision then
  return 0
end
redis.call('HSET', SYSTEM, 'hard_storage', ARGV[EXTRA_ARGV + 1], 'write_ratio', ARGV[EXTRA_ARGV + 2],
  'read_only_forced', ARGV[EXTRA_ARGV + 3], 'revision', int(revision))
return 1
