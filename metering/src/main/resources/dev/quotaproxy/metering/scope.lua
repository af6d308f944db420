-- scope: one scope's usage and limits, after purging expired reservations of its namespace.
-- KEYS    common layout with one scope; SCOPE_KEYS[1] is present:S (unused)
-- ARGV    common layout: 1, '', 0, scope
-- Result  {used, reserved, hard, soft, egress, egress window seconds}

purge_expired(now_ms())
return path_states()
