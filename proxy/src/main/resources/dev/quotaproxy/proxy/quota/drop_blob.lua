-- drop_blob: the registry deleted a blob from the repository.
-- KEYS    common layout; SCOPE_KEYS are present:S
-- ARGV    common layout, then: digest
-- Result  UNKNOWN (-1) when the namespace's state is not known, changing nothing; otherwise
--         states... (path_states after the change)
-- If the repository holds the blob, each scope's count of repositories holding it drops by one; where it
-- reaches 0 the blob's size leaves that scope's used bytes, and a blob_removed event names those scopes.
-- Otherwise nothing changes.

local digest = ARGV[EXTRA_ARGV + 1]
if not known() then
  return UNKNOWN
end
purge_expired(now_ms())
remove_blob(digest)
return path_states()
