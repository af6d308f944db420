-- check_egress: whether the scopes of a repository's path may serve a pull now.
-- KEYS    common layout; SCOPE_KEYS are egress:S
-- ARGV    common layout (the path)
-- Result  {1} when every scope with an egress limit is below it in its current window;
--         else {0, i, used, limit, window seconds, seconds until the window ends} for the first
--         (outermost) scope i at or over its limit.
-- A scope's window is the calendar window of its egress_window seconds (aligned to the epoch) holding
-- the Redis clock's now; a counter of an earlier window counts as 0.

local now = now_ms()
for i = 1, SCOPE_COUNT do
  local _, _, limit, seconds = limits_of(SCOPES[i])
  if limit ~= -1 then
    local window, window_end = egress_window(now, seconds)
    local counter = redis.call('HMGET', SCOPE_KEYS[i], 'window', 'bytes')
    local used = 0
    if counter[1] == window then
      used = num(counter[2], 0)
    end
    if used >= limit then
      return { 0, i, used, limit, seconds, math.ceil((window_end - now) / 1000) }
    end
  end
end
return { 1 }
