-- keep: renews the leases of one proxy's live request reservations (and commit intents) in a namespace, and
-- re-creates the reservations Redis lost (flushed, restarted empty, restored from an older snapshot) while
-- their requests go on.
-- KEYS    common layout with no scopes, then links:R and manifests:R of each reservation that holds slots, in order
-- ARGV    common layout (no scopes), then: lease ms, and per reservation: id, repository, bytes held, number of
--         scopes k, number of count slots m, its k scopes (outermost first), its m slots (as reserve_bytes returns
--         them)
-- Result  the number of reservations re-created.
-- A live reservation gets a new expiry, now + lease; a retired one (its request ended meanwhile) is left
-- alone; a missing one is created again holding its bytes in each of its scopes, without a limit check:
-- it was granted before Redis lost it. So are its count slots that are still for something new (its repository
-- links nothing, its manifest is not in it): otherwise pushes into new repositories decided meanwhile would not
-- see it in flight, and could all commit past a count limit. Works whether or not the namespace's state is known:
-- a restore leaves reservations and slots as they are. A slot held again before the restore, for a repository
-- the ledger then restores, is only in flight one more (refusing early, never late) until the request ends.

local lease = tonumber(ARGV[EXTRA_ARGV + 1])
local now = now_ms()
local recreated = 0
local at = EXTRA_ARGV + 2
local key = EXTRA_KEYS + 1
while at <= #ARGV do
  local id, repository, bytes = ARGV[at], ARGV[at + 1], tonumber(ARGV[at + 2])
  local k, m = tonumber(ARGV[at + 3]), tonumber(ARGV[at + 4])
  local first_scope, first_slot = at + 5, at + 5 + k
  local links, manifests
  if m > 0 then
    links, manifests = KEYS[key], KEYS[key + 1]
    key = key + 2
  end
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
  elseif bytes > 0 or m > 0 then
    local reservation = { repo = repository, total = 0, amounts = {}, slots = {} }
    if bytes > 0 then
      for i = 0, k - 1 do
        local scope = ARGV[first_scope + i]
        add(RESERVED, scope, bytes)
        reservation.amounts[scope] = bytes
      end
    end
    local held = 0
    for i = 0, m - 1 do
      local field = ARGV[first_slot + i]
      if slot_still_new(field, links, manifests) then
        hold_slot(id, field)
        reservation.slots[field] = 1
        held = held + 1
      end
    end
    if bytes > 0 or held > 0 then
      store_reservation(id, reservation)
      set_expiry(id, now + lease)
      recreated = recreated + 1
    end
  end
  at = first_slot + m
end
return recreated
