-- record_rejection: a push was refused by a quota; the refusal is kept for reports.
-- KEYS    common layout (SCOPE_KEYS unused)
-- ARGV    common layout, then: refusing scope, resource, bytes requested, usage, limit, reason
-- Result  0
-- Event: rejection. Nothing else changes: the refusal itself was decided by reserve_bytes or
-- reserve_blobs; this records the one that was finally given to the client.

emit('rejection', { 'scope', ARGV[EXTRA_ARGV + 1], 'resource', ARGV[EXTRA_ARGV + 2],
  'requested', ARGV[EXTRA_ARGV + 3], 'usage', ARGV[EXTRA_ARGV + 4], 'limit', ARGV[EXTRA_ARGV + 5],
  'reason', ARGV[EXTRA_ARGV + 6] })
return 0
