-- common.lua: shared names and helpers, joined in front of every operation script by LuaScripts
-- (Redis scripts cannot include each other). Operation files use these and hold only their own logic.
-- Over 350 lines for that reason: whatever two scripts share (reservations, blobs, counts) can only live here.
--
-- Layout every script is called with:
--   KEYS[1..12]     used, reserved, limits, sizes, res, res_expiry, events, epoch, commits, sequence, counts, slots
--                   of one namespace (QuotaKeys.common)
--   ARGV[1]         n, the number of scopes of the path (may be 0)
--   ARGV[2]         the user the request acts for, recorded in the events it causes ('' when none)
--   ARGV[3]         the floor: the highest event number the caller has seen the namespace reach (0: none)
--   ARGV[4..3+n]    the scopes, outermost first (SCOPES); the last is the repository
--   KEYS[13..12+n]  one key per scope (SCOPE_KEYS): present:S, or egress:S where the script says so
--   KEYS[EXTRA_KEYS + 1 ..], ARGV[EXTRA_ARGV + 1 ..]   the operation's own keys and arguments
--
-- Events: every committed change is appended to the namespace's stream (EVENTS) in the same script,
-- so a change and its event exist together or not at all; the script also returns what it appended
-- (with_events), which the proxy keeps until the ledger has it, in case Redis loses the stream first.
-- The ledger consumes the stream into Postgres; an entry's id (time-sequence) orders the namespace's
-- changes. Every entry also carries n, the next number of the namespace's SEQUENCE: the ledger keeps the
-- highest it applied, so a Redis that came back with older state numbers its next events below it and
-- is found out, though their time-based ids are new (Ledger.apply).
--
-- Known state: EPOCH exists while the namespace's state is the one the ledger knows, and SEQUENCE is
-- at least the caller's FLOOR. A script that decides or changes usage returns the bare integer -1
-- (UNKNOWN) without touching anything otherwise (Redis came back empty or older, or the namespace is
-- new): the caller then restores the namespace from the ledger, or marks a new one, and asks again.
--
-- Numbers: Lua numbers are doubles, exact for integers below 2^53 (8 PiB); the Java side refuses
-- larger values. Integers go back to Redis through int(), never tostring() or cjson (both print only
-- 14 significant digits), and are stored in reservation JSON as strings for the same reason.
-- "Now" is the Redis server's clock (TIME), so every proxy instance shares one clock.

local USED, RESERVED, LIMITS, SIZES, RES, RES_EXPIRY, EVENTS, EPOCH, COMMITS, SEQUENCE =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local COUNTS, SLOTS = KEYS[11], KEYS[12]
local UNKNOWN = -1
local SCOPE_COUNT = tonumber(ARGV[1])
local USER = ARGV[2]
local FLOOR = tonumber(ARGV[3]) or 0
local SCOPES, SCOPE_KEYS = {}, {}
for i = 1, SCOPE_COUNT do
  SCOPES[i] = ARGV[3 + i]
  SCOPE_KEYS[i] = KEYS[12 + i]
end
local EXTRA_KEYS = 12 + SCOPE_COUNT
local EXTRA_ARGV = 3 + SCOPE_COUNT

-- Whether the namespace's state is known (see Known state above): marked, and numbered at least as far
-- as the caller has seen it go (lower: Redis went back to older state since, see SeenSequences).
local function known()
  return redis.call('EXISTS', EPOCH) == 1 and tonumber(redis.call('GET', SEQUENCE) or '0') >= FLOOR
end

-- An integer as Redis expects it: all digits, no exponent.
local function int(n)
  return string.format('%d', n)
end

-- A reply or stored value as a number; absent values (false) and garbage read as the default.
local function num(value, default)
  local n = tonumber(value)
  if n == nil then
    return default
  end
  return n
end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- What this call appended to the stream, each as { id, field, value, ... }: returned beside the
-- operation's reply (see with_events), so the proxy keeps a copy until the ledger has it.
local EMITTED = {}

-- Appends an event about a repository to the namespace's stream: type, repo, user and its number, then the
-- event's own field/value pairs. The repository is the innermost scope, or `repository` when given (a script
-- called with no scopes, such as intend, names it so).
local function emit(kind, fields, repository)
  local n = redis.call('INCR', SEQUENCE)
  local entry = { 'XADD', EVENTS, '*', 'type', kind, 'repo', repository or SCOPES[SCOPE_COUNT] or '', 'user', USER, 'n', int(n) }
  for _, value in ipairs(fields) do
    entry[#entry + 1] = value
  end
  local record = { redis.call(unpack(entry)) }
  for i = 4, #entry do
    record[#record + 1] = entry[i]
  end
  EMITTED[#EMITTED + 1] = record
end

-- Every script's reply (LuaScripts wraps each operation in a function): { the operation's reply, EMITTED }.
-- A nil reply would end the array early, so it travels as false (a nil bulk reply).
local function with_events(reply)
  if reply == nil then
    reply = false
  end
  return { reply, EMITTED }
end

-- Adds delta to a HASH counter and returns the new value. A counter that reaches zero is deleted,
-- so absent always means 0 and hashes do not fill with zeros.
local function add(key, field, delta)
  if delta == 0 then
    return num(redis.call('HGET', key, field), 0)
  end
  local value = redis.call('HINCRBY', key, field, int(delta))
  if value <= 0 then
    redis.call('HDEL', key, field)
  end
  return value
end

-- A scope's limits: hard, soft, egress, egress window seconds (-1 meaning unlimited).
local function limits_of(scope)
  local l = redis.call('HMGET', LIMITS, scope .. '|hard', scope .. '|soft', scope .. '|egress', scope .. '|egress_window')
  return num(l[1], -1), num(l[2], -1), num(l[3], -1), num(l[4], 3600)
end

local function usage_of(scope)
  return num(redis.call('HGET', USED, scope), 0), num(redis.call('HGET', RESERVED, scope), 0)
end

-- A scope's count of `kind` (repositories or manifests; see Counts below): committed, slots in flight, hard
-- and soft limits (-1: none).
local function count_state(scope, kind)
  local field = scope .. '|' .. kind
  local l = redis.call('HMGET', LIMITS, field .. '_hard', field .. '_soft')
  return num(redis.call('HGET', COUNTS, field), 0), num(redis.call('HGET', SLOTS, field), 0), num(l[1], -1), num(l[2], -1)
end

-- Every scope of the path, fourteen numbers each: used, reserved, hard, soft, egress, egress window, then
-- repositories, repositories in flight, their hard and soft limits, and the same four of manifests.
local function path_states(out)
  out = out or {}
  for i = 1, SCOPE_COUNT do
    local used, reserved = usage_of(SCOPES[i])
    local hard, soft, egress, window = limits_of(SCOPES[i])
    local r, r_pending, r_hard, r_soft = count_state(SCOPES[i], 'repositories')
    local m, m_pending, m_hard, m_soft = count_state(SCOPES[i], 'manifests')
    for _, value in ipairs({ used, reserved, hard, soft, egress, window, r, r_pending, r_hard, r_soft, m, m_pending, m_hard, m_soft }) do
      out[#out + 1] = value
    end
  end
  return out
end

-- Reservations: { repo = repository, total = bytes kept (a session's), amounts = { scope = bytes },
-- dirty = true when the registry may hold bytes of the session that no reservation covers,
-- slots = { field = 1 } the count slots it holds (see Counts below) }, or nil.
-- An id is either live (such a table), retired (a tombstone, see tombstone) or absent: a tombstone reads as nil.
local function load_reservation(id)
  if id == '' then
    return nil
  end
  local json = redis.call('HGET', RES, id)
  if not json then
    return nil
  end
  local stored = cjson.decode(json)
  if stored.retired then
    return nil
  end
  local reservation = { repo = stored.repo, total = num(stored.total, 0), amounts = {}, dirty = stored.dirty == '1',
    slots = stored.slots or {} }
  for scope, amount in pairs(stored.amounts or {}) do
    reservation.amounts[scope] = num(amount, 0)
  end
  return reservation
end

-- Whether the id was released whole, settled or committed. Its reserves grant nothing from then on: a
-- reserve that timed out in the proxy may still reach Redis after the release that followed it.
local function is_retired(id)
  if id == '' then
    return false
  end
  local json = redis.call('HGET', RES, id)
  return json ~= false and cjson.decode(json).retired ~= nil
end

-- Bytes the reservation id already holds in a scope (0 when it holds none): a denial reports them, so a
-- caller can tell room taken by others' uploads from room taken by its own.
local function held_by(id, scope)
  local reservation = load_reservation(id)
  return reservation and (reservation.amounts[scope] or 0) or 0
end

-- Writes the reservation's amounts, total and dirty flag; its expiry is left as it is.
local function store_reservation(id, reservation)
  local amounts = {}
  for scope, amount in pairs(reservation.amounts) do
    if amount > 0 then
      amounts[scope] = int(amount)
    end
  end
  local stored = { repo = reservation.repo, total = int(reservation.total), amounts = amounts }
  if reservation.dirty then
    stored.dirty = '1'
  end
  if reservation.slots and next(reservation.slots) ~= nil then
    stored.slots = reservation.slots
  end
  redis.call('HSET', RES, id, cjson.encode(stored))
end

local function set_expiry(id, expiry_ms)
  redis.call('ZADD', RES_EXPIRY, int(expiry_ms), id)
end

-- Gives back up to `bytes` of each scope's amount, or all of it when bytes is nil.
local function release_amounts(reservation, bytes)
  for scope, amount in pairs(reservation.amounts) do
    local give = amount
    if bytes ~= nil and bytes < amount then
      give = bytes
    end
    add(RESERVED, scope, -give)
    reservation.amounts[scope] = amount - give
  end
end

local function delete_reservation(id)
  redis.call('HDEL', RES, id)
  redis.call('ZREM', RES_EXPIRY, id)
end

-- Counts (count limits). COUNTS holds each scope's committed counts: S|repositories, the repositories at or under
-- S that link anything (links:R not empty), and S|manifests, the manifests they hold. SLOTS holds what pushes in
-- flight hold for new ones: field R (a repository that holds nothing yet) or R@M (a manifest new to R) -> the
-- JSON object of the reservation ids holding that slot, and S|repositories, S|manifests -> the slots held under
-- S. A slot counts once under every scope of R's path however many ids hold it (uploads into one new repository
-- share it). It is taken with the bytes, all or nothing, in the script that decides; the commit that makes R hold
-- something (or adds M to it) turns it into a count; its last holder ending (release, commit, expiry) gives it back.
-- Repository names hold neither '@' nor '|', so the fields cannot be confused.

-- The scopes of a repository, outermost first (as Scopes.of): for scripts that end reservations without scopes.
local function scopes_of(repository)
  local scopes, from = {}, 1
  while true do
    local slash = string.find(repository, '/', from, true)
    if not slash then
      break
    end
    scopes[#scopes + 1] = string.sub(repository, 1, slash - 1)
    from = slash + 1
  end
  scopes[#scopes + 1] = repository
  return scopes
end

-- A slot field's repository and the count it is a slot of.
local function slot_of(field)
  local at = string.find(field, '@', 1, true)
  if at then
    return string.sub(field, 1, at - 1), 'manifests'
  end
  return field, 'repositories'
end

-- Adds delta to the count `kind` of every scope of the repository's path, in COUNTS or SLOTS.
local function add_count(key, repository, kind, delta)
  for _, scope in ipairs(scopes_of(repository)) do
    add(key, scope .. '|' .. kind, delta)
  end
end

local function holders_of(field)
  local json = redis.call('HGET', SLOTS, field)
  return json and cjson.decode(json) or nil
end

-- The id holds the slot; the first holder takes it (one more in flight under every scope of the path).
local function hold_slot(id, field)
  local holders = holders_of(field)
  if not holders then
    holders = {}
    local repository, kind = slot_of(field)
    add_count(SLOTS, repository, kind, 1)
  end
  holders[id] = 1
  redis.call('HSET', SLOTS, field, cjson.encode(holders))
end

-- The id no longer holds the slot; the last holder gives it back. A slot turned into a count since (or taken
-- again by others after that) is not the id's: it is left alone.
local function unhold_slot(id, field)
  local holders = holders_of(field)
  if not holders or not holders[id] then
    return
  end
  holders[id] = nil
  if next(holders) == nil then
    redis.call('HDEL', SLOTS, field)
    local repository, kind = slot_of(field)
    add_count(SLOTS, repository, kind, -1)
  else
    redis.call('HSET', SLOTS, field, cjson.encode(holders))
  end
end

-- The slot's count was committed: it is no longer in flight, whoever held it.
local function slot_used(field)
  if redis.call('HDEL', SLOTS, field) == 1 then
    local repository, kind = slot_of(field)
    add_count(SLOTS, repository, kind, -1)
  end
end

-- Gives back every slot the reservation holds (it ends).
local function release_slots(id, reservation)
  for field in pairs(reservation.slots or {}) do
    unhold_slot(id, field)
  end
  reservation.slots = {}
end

-- Drops the holders whose reservation no longer holds the slot (gone without giving it back: part of Redis's data
-- lost, or an older copy of it restored) and counts the slots in flight under each scope again from the rest. Only
-- before a refusal that slots in flight alone would cause: a slot nobody holds any more must not refuse a push.
local function prune_slots()
  local all = redis.call('HGETALL', SLOTS)
  local pending = {}
  for i = 1, #all, 2 do
    local field = all[i]
    if string.find(field, '|', 1, true) then
      redis.call('HDEL', SLOTS, field)
    else
      local alive = {}
      for id in pairs(cjson.decode(all[i + 1])) do
        local reservation = load_reservation(id)
        if reservation and reservation.slots[field] then
          alive[id] = 1
        end
      end
      if next(alive) == nil then
        redis.call('HDEL', SLOTS, field)
      else
        redis.call('HSET', SLOTS, field, cjson.encode(alive))
        local repository, kind = slot_of(field)
        for _, scope in ipairs(scopes_of(repository)) do
          pending[scope .. '|' .. kind] = (pending[scope .. '|' .. kind] or 0) + 1
        end
      end
    end
  end
  for key, n in pairs(pending) do
    redis.call('HSET', SLOTS, key, int(n))
  end
end

-- Whether a new slot `field` of `kind` fits every scope of the path: nil when it does (or when others hold it
-- already: the id joins them), else a refusal in the form of the byte refusals, for the first scope (outermost
-- first) where committed + in flight + 1 would pass the hard limit: {0, i, count, in flight, hard, 1, 0, kind, subject}.
local function slot_refusal(field, kind, subject, pruned)
  if redis.call('HEXISTS', SLOTS, field) == 1 then
    return nil
  end
  for i = 1, SCOPE_COUNT do
    local count, pending, hard = count_state(SCOPES[i], kind)
    if hard ~= -1 and count + pending + 1 > hard then
      if not pruned and count + 1 <= hard then
        prune_slots()
        return slot_refusal(field, kind, subject, true)
      end
      return { 0, i, count, pending, hard, 1, 0, kind, subject }
    end
  end
  return nil
end

-- The slots a push into the repository (the innermost scope) needs, before anything is granted: one for the
-- repository when it links nothing yet (`links`, links:R), one for `manifest` (a digest, or nil) when it is not
-- in `manifests` (manifests:R). Nil and the fields to hold (hold_slots, once the grant is certain), or a refusal.
local function slots_needed(links, manifests, manifest)
  local repository = SCOPES[SCOPE_COUNT]
  local fields = {}
  if redis.call('EXISTS', links) == 0 then
    local refusal = slot_refusal(repository, 'repositories', repository)
    if refusal then
      return refusal
    end
    fields[#fields + 1] = repository
  end
  if manifest and manifest ~= '' and redis.call('SISMEMBER', manifests, manifest) == 0 then
    local field = repository .. '@' .. manifest
    local refusal = slot_refusal(field, 'manifests', field)
    if refusal then
      return refusal
    end
    fields[#fields + 1] = field
  end
  return nil, fields
end

-- The reservation (written by the caller afterwards) holds the slots.
local function hold_slots(id, reservation, fields)
  reservation.slots = reservation.slots or {}
  for _, field in ipairs(fields) do
    hold_slot(id, field)
    reservation.slots[field] = 1
  end
end

-- A grant's reply followed by the slots the reservation holds, sorted (the proxy keeps them, see keep.lua).
local function granted_with_slots(reply, reservation)
  local fields = {}
  for field in pairs(reservation.slots or {}) do
    fields[#fields + 1] = field
  end
  table.sort(fields)
  for _, field in ipairs(fields) do
    reply[#reply + 1] = field
  end
  return reply
end

-- Whether the slot is still one for something new: its repository links nothing (`links`, links:R), or its
-- manifest is not in the repository (`manifests`, manifests:R).
local function slot_still_new(field, links, manifests)
  local at = string.find(field, '@', 1, true)
  if at then
    return redis.call('SISMEMBER', manifests, string.sub(field, at + 1)) == 0
  end
  return redis.call('EXISTS', links) == 0
end

-- The repository (innermost scope) linked its first digest: it counts now, and its slot is used.
local function repository_filled()
  local repository = SCOPES[SCOPE_COUNT]
  add_count(COUNTS, repository, 'repositories', 1)
  slot_used(repository)
end

-- The manifest was added to the repository (delta 1: its slot is used) or left it (-1).
local function manifest_counted(manifest, delta)
  local repository = SCOPES[SCOPE_COUNT]
  add_count(COUNTS, repository, 'manifests', delta)
  if delta > 0 then
    slot_used(repository .. '@' .. manifest)
  end
end

-- Removes the request's intent (intend.lua), if it has one. The ledger journals intents (intent_opened,
-- intent_closed) to restore those still open with the namespace; an intent_closed is appended only for an
-- intent that was there, and, like every event, only while the namespace's state is known (otherwise its
-- number would go below the ledger's: see Known state above).
local function close_intent(id)
  local json = redis.call('HGET', COMMITS, id)
  if not json then
    return
  end
  redis.call('HDEL', COMMITS, id)
  if known() then
    emit('intent_closed', { 'request', id }, cjson.decode(json).repo or '')
  end
end

-- Puts a tombstone in the id's place, whatever it held (the caller has accounted for that), until
-- expiry_ms, when purge_expired deletes it like any reservation: by then no call sent for the id can
-- still be on its way.
local function tombstone(id, expiry_ms)
  -- A request that ended, whatever it did, leaves no intent behind (see intend.lua).
  close_intent(id)
  redis.call('HSET', RES, id, '{"retired":"1"}')
  set_expiry(id, expiry_ms)
end

-- Releases whatever the id holds and retires it (see tombstone). An empty id (none) is left alone.
local function retire(id, expiry_ms)
  if id == '' then
    return
  end
  local reservation = load_reservation(id)
  if reservation then
    release_amounts(reservation, nil)
    release_slots(id, reservation)
  end
  tombstone(id, expiry_ms)
end

-- Whether the namespace was restored from the ledger a moment ago (the key qp:{T}:recovering, given to the
-- reserving scripts as their own first key, exists): while it lasts the proxies re-create the reservations
-- Redis lost with the rest (keep.lua), so no new grant may take their room yet.
local function recovering()
  return redis.call('EXISTS', KEYS[EXTRA_KEYS + 1]) == 1
end

-- Releases and deletes every reservation (and tombstone) of the namespace whose expiry has passed. Called
-- first by every script that reads or changes usage, so no decision counts an abandoned upload.
local function purge_expired(now)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', RES_EXPIRY, '-inf', int(now))) do
    local reservation = load_reservation(id)
    if reservation then
      release_amounts(reservation, nil)
      release_slots(id, reservation)
    end
    delete_reservation(id)
  end
end

-- How a script that reserves under `id` starts: nil and the time when it may go on, else its reply now
-- (UNKNOWN, {2} for a retired id, {4} while recovering when `checks_recovery`). Expired reservations are
-- purged first, so that what the script reads next counts no abandoned upload.
local function reserving_start(id, checks_recovery)
  if not known() then
    return UNKNOWN
  end
  local now = now_ms()
  purge_expired(now)
  if is_retired(id) then
    return { 2 }
  end
  if checks_recovery and recovering() then
    return { 4 }
  end
  return nil, now
end

-- How a script that unlinks starts: nil when it may go on, else UNKNOWN. The deleting request's intent
-- (intend.lua, '' for none) ends here, and expired reservations are purged.
local function dropping_start(request)
  if not known() then
    return UNKNOWN
  end
  if request ~= '' then
    close_intent(request)
  end
  purge_expired(now_ms())
  return nil
end

-- Makes a blob present in the repository (the innermost scope) and so in every scope of the path, and
-- returns the size it counts at. A size the namespace knows wins and is never overwritten (a client may
-- claim any size; the first commit's was counted or asked of the registry): `size` is recorded only for
-- a digest without one. Each scope counts the repositories under it holding the blob and pays its size
-- only when that count goes from 0 to 1: a blob costs a scope once, however many of its repositories hold it.
-- `links` (links:R) is the set of digests the repository itself links. It, not the count in present:R, says
-- whether the repository holds the blob: a repository may be named like the scope of others (acme/app and
-- acme/app/sub), and a blob acme/app/sub holds is counted in present:acme/app without acme/app holding it.
-- Every link is an event (blob_added, with no scopes when it charges none), so the ledger has every link.
local function add_blob(digest, size, links)
  if redis.call('HSETNX', SIZES, digest, int(size)) == 0 then
    size = num(redis.call('HGET', SIZES, digest), size)
  end
  if redis.call('SADD', links, digest) == 0 then
    return size
  end
  -- The repository's first link makes it count: the event says so (filled), so the ledger's counts follow it.
  local filled = redis.call('SCARD', links) == 1
  if filled then
    repository_filled()
  end
  local charged = {}
  for i = 1, SCOPE_COUNT do
    if redis.call('HINCRBY', SCOPE_KEYS[i], digest, 1) == 1 then
      add(USED, SCOPES[i], size)
      charged[#charged + 1] = SCOPES[i]
    end
  end
  local fields = { 'digest', digest, 'size', int(size), 'scopes', table.concat(charged, ',') }
  if filled then
    fields[#fields + 1] = 'filled'
    fields[#fields + 1] = '1'
  end
  emit('blob_added', fields)
  return size
end

-- The reverse: the blob leaves the repository, and each scope where no other repository holds it.
-- Once it has left the whole namespace (the outermost scope) its size is forgotten too.
-- Blobs freed lately: a sorted set (freed:R... see QuotaKeys.freed) of "repository digest" scored by when a
-- drop took the digest out of the repository's usage, kept an hour. A commit settled late from an intent
-- (RegistryIntents) is skipped when its blob was freed after its request ended: a manifest charged it
-- meanwhile and that manifest's delete freed it, and the link the registry keeps is not usage.
local FREED_FOR_MS = 3600000

-- Whether the repository's digest was freed at or after `since` (ms, Redis clock; '' or nil: never asked).
local function freed_since(freed, digest, since)
  since = tonumber(since)
  if since == nil then
    return false
  end
  local at = tonumber(redis.call('ZSCORE', freed, SCOPES[SCOPE_COUNT] .. ' ' .. digest))
  return at ~= nil and at >= since
end

-- Takes a blob out of the path's scopes; `freed` (see above) records when it left the repository, and
-- `links` (see add_blob) is the set of what the repository links: a blob it does not link changes nothing.
local function remove_blob(digest, freed, links)
  if redis.call('SREM', links, digest) == 0 then
    return
  end
  local emptied = redis.call('EXISTS', links) == 0
  if emptied then
    -- Its last link: the repository holds nothing and no longer counts (the event says so: emptied).
    add_count(COUNTS, SCOPES[SCOPE_COUNT], 'repositories', -1)
  end
  local now = now_ms()
  redis.call('ZADD', freed, now, SCOPES[SCOPE_COUNT] .. ' ' .. digest)
  redis.call('ZREMRANGEBYSCORE', freed, '-inf', now - FREED_FOR_MS)
  local size = num(redis.call('HGET', SIZES, digest), 0)
  local freed = {}
  for i = 1, SCOPE_COUNT do
    if add(SCOPE_KEYS[i], digest, -1) <= 0 then
      add(USED, SCOPES[i], -size)
      freed[#freed + 1] = SCOPES[i]
      if i == 1 then
        redis.call('HDEL', SIZES, digest)
      end
    end
  end
  local fields = { 'digest', digest, 'size', int(size), 'scopes', table.concat(freed, ',') }
  if emptied then
    fields[#fields + 1] = 'emptied'
    fields[#fields + 1] = '1'
  end
  emit('blob_removed', fields)
end

-- The egress window of `seconds` that `now_ms` falls in: its name ("seconds:index") and its end (ms).
local function egress_window(now, seconds)
  local index = math.floor(now / (seconds * 1000))
  return int(seconds) .. ':' .. int(index), (index + 1) * seconds * 1000
end
