"""The store's server-side scripts: each change to an entry is one atomic call.

Keys of a store share one hash tag (``{prefix}``), so the scripts also run on Redis Cluster.
Entry keys are built inside the scripts from ``ARGV`` (the due entries are not known before the
claim); they hash to the same slot as the declared keys.

Entry hash fields: the definition (``fw``, ``fn``, ``q``, ``a``, ``kw``, ``o``, ``s``, ``m``,
``off``: see `vedette.schedule.store`), the history (``last`` slot, ``n`` runs, ``late`` missed
runs dispatched in a row, ``err``), and an open claim (``c`` its slot, ``cn`` the scheduler's
clock when claimed, ``ca`` the server's, ``cb`` the claiming leader's fencing token).
"""

from __future__ import annotations

DEFINITION_FIELDS = ("fw", "fn", "q", "a", "kw", "o", "s", "m", "off")
CLAIM_FIELDS = ("c", "cn", "ca", "cb")

# KEYS: due, the entry. ARGV: name, next run (a score, or "+inf"), the schedule field, then
# field, value... An unchanged schedule keeps the entry's place (and any open claim); a changed
# one starts afresh. Returns the entry's score.
UPSERT = """
local old = redis.call('HGET', KEYS[2], 's')
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], 'fw', 'fn', 'q', 'a', 'kw', 'o', 's', 'm', 'off', 'err')
redis.call('HSET', KEYS[2], unpack(ARGV, 4))
local paused = redis.call('HEXISTS', KEYS[2], 'off') == 1
if old == ARGV[3] and score and score ~= 'inf' and not paused then
  return score
end
if old ~= ARGV[3] then
  redis.call('HDEL', KEYS[2], 'c', 'cn', 'ca', 'cb', 'late')
end
local next_run = ARGV[2]
if paused then next_run = '+inf' end
redis.call('ZADD', KEYS[1], next_run, ARGV[1])
return next_run
"""

# KEYS: due, leader, inbox. ARGV: fencing token, now (ms), limit, entry key prefix, inbox limit,
# hold (ms: how long another leader's claim is left to it before it is taken over), the largest
# document (bytes).
# Returns false if the token is not the leader's; else one JSON document (one string to parse,
# not thousands of reply elements): {"claims": [[name, slot, claim clock, taken over (0/1),
# {field: value} as before the claim], ...], "documents": [...], "broken": [name, ...],
# "later": next due score or false}. A document larger than the limit comes as [its first 1024
# bytes, its size]. The documents stay in the inbox until the leader has stored them
# (INBOX_DONE): a leader that dies meanwhile leaves them to the next one. A due name whose key
# is not a hash (set by hand) cannot be claimed: it is parked at +inf and listed in "broken".
# Strings are passed as Redis holds them: the reply is JSON, but not always UTF-8 (a document
# or a hash written by hand may hold any bytes). (cjson writes an empty list as {}.)
CLAIM = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return false end
local now = ARGV[2]
local time = redis.call('TIME')
local server = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, ARGV[3])
local claims, broken = {}, {}
for i = 1, #due, 2 do
  local name, slot = due[i], due[i + 1]
  local key = ARGV[4] .. name
  local fields = redis.pcall('HGETALL', key)
  local map = {}
  local mine = true
  if fields['err'] then
    mine = false
    broken[#broken + 1] = name
    redis.call('ZADD', KEYS[1], '+inf', name)
  else
    for j = 1, #fields, 2 do map[fields[j]] = fields[j + 1] end
  end
  local clock, taken = now, 0
  if not mine then
    -- parked above
  elseif map['c'] == slot then
    clock = map['cn'] or now
    if map['cb'] ~= ARGV[1] then
      if server - (tonumber(map['ca']) or 0) < tonumber(ARGV[6]) then
        mine = false
      else
        taken = 1
        redis.call('HSET', key, 'cb', ARGV[1])
      end
    end
  else
    redis.call('HSET', key, 'c', slot, 'cn', now, 'ca', server, 'cb', ARGV[1])
  end
  if mine then
    claims[#claims + 1] = {name, slot, clock, taken, map}
  end
end
local documents = redis.call('LRANGE', KEYS[3], 0, tonumber(ARGV[5]) - 1)
local largest = tonumber(ARGV[7])
for i, document in ipairs(documents) do
  if #document > largest then documents[i] = {string.sub(document, 1, 1024), #document} end
end
local later = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
return cjson.encode({
  claims = claims, documents = documents, broken = broken, later = later[2] or false
})
"""

# KEYS: due. ARGV: fencing token, entry key prefix, and a JSON list with, for each claim, the
# strings [name, slot, outcome ("1" sent, "0" not sent, "f" failed: the claim stays open), next
# score ("+inf": no more runs), missed runs dispatched in a row, error ("": none), runs sent
# counting this one (the claim's "n" plus one: only the leader holding the claim writes it)].
# Settles only claims the token still holds; returns how many it settled.
SETTLE = """
local settled = 0
for _, claim in ipairs(cjson.decode(ARGV[3])) do
  local name, slot, outcome = claim[1], claim[2], claim[3]
  local key = ARGV[2] .. name
  local open = redis.call('HMGET', key, 'c', 'cb', 'off')
  if open[1] == slot and open[2] == ARGV[1] then
    if outcome == 'f' then
      redis.call('HSET', key, 'err', claim[6])
    else
      local gone, set = {'c', 'cn', 'ca', 'cb'}, {}
      if outcome == '1' then
        set[#set + 1] = 'last'
        set[#set + 1] = slot
        set[#set + 1] = 'n'
        set[#set + 1] = claim[7]
      end
      if claim[5] == '0' then
        gone[#gone + 1] = 'late'
      else
        set[#set + 1] = 'late'
        set[#set + 1] = claim[5]
      end
      if claim[6] == '' then
        gone[#gone + 1] = 'err'
      else
        set[#set + 1] = 'err'
        set[#set + 1] = claim[6]
      end
      redis.call('HDEL', key, unpack(gone))
      if #set > 0 then redis.call('HSET', key, unpack(set)) end
      local next_run = claim[4]
      if open[3] then next_run = '+inf' end
      redis.call('ZADD', KEYS[1], 'XX', next_run, name)
    end
    settled = settled + 1
  end
end
return settled
"""

# KEYS: leader, inbox. ARGV: fencing token, how many documents were handled. Drops them from the
# head of the inbox (writers push at its tail) if the token still leads.
INBOX_DONE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('LTRIM', KEYS[2], ARGV[2], -1)
return 1
"""

# KEYS: due, the entry. ARGV: name, score ("+inf" to pause), and "1" to pause or "0" to resume.
# Returns false if there is no such entry.
SET_PAUSED = """
if redis.call('EXISTS', KEYS[2]) == 0 then return false end
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[2], 'off', '1')
else
  redis.call('HDEL', KEYS[2], 'off')
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return true
"""

# KEYS: due, the entry. ARGV: name, now (ms). Makes the entry due now (paused: once, then paused
# again, as settling a paused entry parks it). Returns false if there is no such entry.
RUN_NOW = """
if redis.call('EXISTS', KEYS[2]) == 0 then return false end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return true
"""

# KEYS: due, a source's statics set. ARGV: entry key prefix, then name, signature... for each
# declared entry (the signature: each definition field but "off", as "<byte length>:<value>",
# "0:" if absent). Deletes the statics no longer declared and adds every declared name to the
# set. Returns {changed, paused, stale}: the (1-based) positions of the declared entries whose
# stored definition differs (or is missing), those of them that are paused, and the names
# deleted. One call, however many entries: a restart with the same declaration writes nothing.
STATICS = """
local fields = {'fw', 'fn', 'q', 'a', 'kw', 'o', 's', 'm', 'off'}
local declared, changed, paused = {}, {}, {}
for i = 2, #ARGV, 2 do
  local name = ARGV[i]
  declared[name] = true
  local stored = redis.call('HMGET', ARGV[1] .. name, unpack(fields))
  local parts = {}
  for j = 1, 8 do
    local value = stored[j] or ''
    parts[j] = #value .. ':' .. value
  end
  if table.concat(parts) ~= ARGV[i + 1] then
    changed[#changed + 1] = i / 2
    if stored[9] then paused[#paused + 1] = i / 2 end
  end
end
local stale = {}
for _, name in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if not declared[name] then
    stale[#stale + 1] = name
    redis.call('ZREM', KEYS[1], name)
    redis.call('DEL', ARGV[1] .. name)
    redis.call('SREM', KEYS[2], name)
  end
end
for i = 2, #ARGV, 2 do
  redis.call('SADD', KEYS[2], ARGV[i])
end
return {changed, paused, stale}
"""

# KEYS: due, the entry. ARGV: name. Returns 1 if the entry existed.
REMOVE = """
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('DEL', KEYS[2])
"""

# KEYS: leader, fence. ARGV: owner, lease (ms). A fresh fencing token, or false if there is a
# leader. Tokens are "<counter>:<owner>": a new leader's is always a new string.
ACQUIRE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local token = redis.call('INCR', KEYS[2]) .. ':' .. ARGV[1]
redis.call('SET', KEYS[1], token, 'PX', ARGV[2])
return token
"""

# KEYS: leader. ARGV: token, lease (ms). 1 if the lease was extended, 0 if it is someone else's.
RENEW = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

# KEYS: leader. ARGV: token. Gives the lease up if it is still this token's.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
