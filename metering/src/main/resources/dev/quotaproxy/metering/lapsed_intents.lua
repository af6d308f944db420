-- lapsed_intents: the intents (see intend.lua) whose lease ran out: their request's proxy died, or its
-- accounting failed, between sending the request and recording what the registry did with it.
-- KEYS    common layout with no scopes
-- ARGV    common layout (n = 0)
-- Result  a flat list: request id, what, repository, digest, session id, size, references ('' for none: see
--         intend.lua), and its expiry (ms), for each lapsed intent; a lapsed intent a restore marked unconfirmed
--         (LedgerRecovery) is deleted instead (and, the namespace's state known, an intent_closed event appended).

local now = now_ms()
local out = {}
local all = redis.call('HGETALL', COMMITS)
for i = 1, #all, 2 do
  local intent = cjson.decode(all[i + 1])
  if num(intent['until'], 0) < now and intent.unconfirmed then
    -- Found in Redis by a restore and never renewed since: most likely brought back by an older snapshot after
    -- its request had finished (and its outcome was recorded), so it is dropped, not settled.
    close_intent(all[i])
  elseif num(intent['until'], 0) < now then
    for _, value in ipairs({ all[i], intent.what or 'commit', intent.repo or '', intent.digest or '', intent.session or '',
      intent.size or '', intent.refs or '', int(num(intent['until'], 0)) }) do
      out[#out + 1] = value
    end
  end
end
return out
