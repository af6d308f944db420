-- keep: renews the leases of one proxy's live request reservations (and commit intents) in a namespace, and
-- re-creates the reservations Redis lost (flushed, restarted empty, restored from an older snapshot) while
-- their requests go on.
-- KEYS    common layout with no scopes
-- ARGV    common layout (no scopes), then: lease ms, and per reservation: id, repository, bytes held,
--         number of scopes k, then its k scopes (outermost first)
-- Result  the number of reservations re-created.
-- A live reservation gets a new expiry, now + lease; a retired one (its request ended meanwhile) is left
-- alone; a missing one is created again holding its bytes in each of its scopes, without a limit check:
-- it was granted before Redis lost it. Works whether or not the namespace's state is known: a restore
-- leaves reservations as they are.

local lease = tonumber(ARGV[EXTRA_ARGV + 1])
local now = now_ms()
local recreated = 0
local at = EXTRA_ARGV + 2
while at <= #ARGV do
  local id, repository, bytes, k = ARGV[at], ARGV[at + 1], tonumber(ARGV[at + 2]), tonumber(ARGV[at + 3])
  local intent = redis.call('HGET', COMMITS, id)
  if intent then
    local renewed = cjson.decode(intent)
    renewed['until'] = int(now + lease)
    renewed.unconfirmed = nil
    redis.call('HSET', COMMITS, id, cjson.encode(renewed))
  end
  local json = redis.call('HGET', RES, id)
  if json then
    if not cjson.decode(json).retired then
      set_expiry(id, now + lease)
    end
  elseif bytes > 0 then
    local reservation = { repo = repository, total = 0, amounts = {} }
    for i = 1, k do
      local scope = ARGV[at + 3 + i]
      add(RESERVED, scope, bytes)
      reservation.amounts[scope] = bytes
    end
    store_reservation(id, reservation)
    set_expiry(id, now + lease)
    recreated = recreated + 1
  end
  at = at + 4 + k
end
return recreated
