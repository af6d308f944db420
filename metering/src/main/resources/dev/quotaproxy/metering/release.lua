-- release: gives back bytes of a reservation in every scope it holds bytes in.
-- KEYS    common layout with no scopes (n = 0): the reservation's own amounts say where it holds bytes
-- ARGV    common layout (n = 0), then: reservation id, bytes (-1 for all), TTL ms
-- Result  1 if the reservation existed (live, not retired), else 0.
-- Each scope gets back min(bytes, its amount); the total shrinks by min(bytes, total), since bytes given
-- back were not uploaded. A partial release keeps the reservation (and its expiry) even when it holds nothing.
-- With -1 everything is given back and the id is retired, whether it existed or not: a reserve for it that
-- was sent earlier but arrives later grants nothing. The tombstone expires after the TTL.

local id, bytes, ttl = ARGV[EXTRA_ARGV + 1], tonumber(ARGV[EXTRA_ARGV + 2]), tonumber(ARGV[EXTRA_ARGV + 3])
local now = now_ms()
purge_expired(now)

local reservation = load_reservation(id)
if bytes == -1 then
  retire(id, now + ttl)
  return reservation and 1 or 0
end
if not reservation then
  return 0
end
release_amounts(reservation, bytes)
reservation.total = math.max(0, reservation.total - bytes)
store_reservation(id, reservation)
return 1
