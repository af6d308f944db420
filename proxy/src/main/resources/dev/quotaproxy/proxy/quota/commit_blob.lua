-- commit_blob: the registry accepted a blob; it becomes used where absent and the reservation is released.
-- KEYS    common layout; SCOPE_KEYS are present:S
-- ARGV    common layout, then: reservation id, digest, size (-1: the reservation's session total)
-- Result  UNKNOWN (-1) when the namespace's state is not known, changing nothing; otherwise
--         {1, size, states...}, or {0, -1, states...} when the size was -1 and the reservation is gone
--         (expired or never made): then nothing changes. states = path_states() after the change.
-- The size is recorded in sizes; every scope where the blob was absent (its count goes 0 -> 1) adds it to used,
-- and a blob_added event names those scopes (none when the repository held the blob already).

local id, digest, size = ARGV[EXTRA_ARGV + 1], ARGV[EXTRA_ARGV + 2], tonumber(ARGV[EXTRA_ARGV + 3])
if not known() then
  return UNKNOWN
end
purge_expired(now_ms())

local reservation = load_reservation(id)
if size == -1 then
  if not reservation then
    return path_states({ 0, -1 })
  end
  size = reservation.total
end

add_blob(digest, size)
if reservation then
  release_amounts(reservation, nil)
  delete_reservation(id)
end
return path_states({ 1, size })
