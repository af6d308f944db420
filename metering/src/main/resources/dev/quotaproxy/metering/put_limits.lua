-- put_limits: sets one scope's limits unless the limits hash holds a newer revision of them.
-- KEYS    common layout with one scope (SCOPE_KEYS unused)
-- ARGV    common layout: 1, '', 0, scope; then hard, soft, egress, egress window seconds, revision, repositories hard,
--         repositories soft, manifests hard, manifests soft (counts; absent from callers before count limits: -1)
-- Result  1 when written, 0 when a newer revision was there (nothing changes)
-- The revision is the ledger row's updated_at in microseconds: the admin API writes a change right
-- after committing it, and every proxy's periodic sync rewrites every row; without the revision a
-- sync holding an older copy could land after the change and undo it until the next sync.
-- An equal revision is written again: it restores values a plain write without revision replaced.
-- A write is announced on the channel qp:limits as "scope<TAB>egress limit<TAB>revision", so every proxy
-- knows at once which scopes have an egress limit (EgressLimits; a lost message is made up by the full
-- refresh from the ledger). PUBLISH names no key: on a Cluster it reaches the subscribers of every node.

local scope = SCOPES[1]
local revision = tonumber(ARGV[EXTRA_ARGV + 5])
local stored = num(redis.call('HGET', LIMITS, scope .. '|rev'), -1)
if stored > revision then
  return 0
end
redis.call('HSET', LIMITS,
  scope .. '|hard', ARGV[EXTRA_ARGV + 1],
  scope .. '|soft', ARGV[EXTRA_ARGV + 2],
  scope .. '|egress', ARGV[EXTRA_ARGV + 3],
  scope .. '|egress_window', ARGV[EXTRA_ARGV + 4],
  scope .. '|repositories_hard', ARGV[EXTRA_ARGV + 6] or '-1',
  scope .. '|repositories_soft', ARGV[EXTRA_ARGV + 7] or '-1',
  scope .. '|manifests_hard', ARGV[EXTRA_ARGV + 8] or '-1',
  scope .. '|manifests_soft', ARGV[EXTRA_ARGV + 9] or '-1',
  scope .. '|rev', int(revision))
redis.call('PUBLISH', 'qp:limits', scope .. '\t' .. ARGV[EXTRA_ARGV + 3] .. '\t' .. int(revision))
return 1
