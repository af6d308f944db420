-- release: gives back bytes of a reservation in every scope it holds bytes in.
-- KEYS    common layout with no scopes (n = 0): the reservation's own amounts say where it holds bytes
-- ARGV    common layout (n = 0), then: reservation id, bytes (-1 for all)
-- Result  1 if the reservation existed, else 0.
-- Each scope gets back min(bytes, its amount); the session total shrinks by min(bytes, total), since
-- bytes given back were not uploaded. With -1 everything is given back and the reservation deleted;
-- a partial release keeps it (and its expiry) even when it holds nothing, because its total still counts.

local id, bytes = ARGV[EXTRA_ARGV + 1], tonumber(ARGV[EXTRA_ARGV + 2])
purge_expired(now_ms())

local reservation = load_reservation(id)
if not reservation then
  return 0
end
if bytes == -1 then
  release_amounts(reservation, nil)
  delete_reservation(id)
  return 1
end
release_amounts(reservation, bytes)
reservation.total = math.max(0, reservation.total - bytes)
store_reservation(id, reservation)
return 1
