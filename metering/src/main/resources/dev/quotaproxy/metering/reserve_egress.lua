-- reserve_egress: before a pull's body moves, reserves its bytes in the current egress window of every scope of the
-- repository's path that has an egress limit, all or nothing.
-- KEYS    common layout; SCOPE_KEYS are egress:S
-- ARGV    common layout (the path), then: bytes (0 when the body's length is unknown)
-- Result  {1, window 1, ..., window n} when allowed, with the name of the window each scope's bytes went to
--         ('' for a scope without an egress limit), bytes having been added to each limited scope's counter;
--         {0, i, used, limit, window seconds, seconds until the window ends} for the first (outermost) scope i that
--         refuses: nothing is reserved anywhere.
-- A scope's window is the calendar window of its egress_window seconds (aligned to the epoch) holding the Redis
-- clock's now; a counter of an earlier window counts as 0. A scope allows bytes > 0 when used + bytes <= limit, or
-- when used = 0 and limit > 0 (a body larger than a whole window's limit may still be pulled once per window;
-- else it could never be), and bytes = 0 when used < limit. A limit of 0 allows nothing.
-- Every limited scope's counter is moved to the current window here, even for 0 bytes, so that settle_egress
-- finds the grant's window and adds what was sent.

local bytes = tonumber(ARGV[EXTRA_ARGV + 1])
local now = now_ms()
local windows = {}
for i = 1, SCOPE_COUNT do
  local _, _, limit, seconds = limits_of(SCOPES[i])
  if limit ~= -1 then
    local window, window_end = egress_window(now, seconds)
    local counter = redis.call('HMGET', SCOPE_KEYS[i], 'window', 'bytes')
    local used = 0
    if counter[1] == window then
      used = num(counter[2], 0)
    end
    local allowed
    if bytes == 0 then
      allowed = used < limit
    else
      allowed = used + bytes <= limit or (used == 0 and limit > 0)
    end
    if not allowed then
      return { 0, i, used, limit, seconds, math.ceil((window_end - now) / 1000) }
    end
    windows[i] = { window, window_end, used }
  end
end

local reply = { 1 }
for i = 1, SCOPE_COUNT do
  local reserved = windows[i]
  if reserved then
    local window, window_end, used = reserved[1], reserved[2], reserved[3]
    redis.call('HSET', SCOPE_KEYS[i], 'window', window, 'bytes', int(used + bytes))
    redis.call('PEXPIREAT', SCOPE_KEYS[i], int(window_end))
    reply[#reply + 1] = window
  else
    reply[#reply + 1] = ''
  end
end
return reply
