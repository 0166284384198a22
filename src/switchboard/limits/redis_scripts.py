"""The Lua scripts of `RedisLimiter`: each operation on a request's counters is one script,
run atomically by Redis, so no two replicas ever interleave their checks and counts.
Admissions, settlements and renewals go through one script, `REQUESTS`, that takes many at
once: one call, and one round trip, for all that a replica has to send in the same moment;
within it each key is purged and given its TTL once, and each counter read once and written
once (`_BATCH`), however many of its operations touch them.

Time is Redis's own (`TIME`), the same for every replica. Money is integer units of 10⁻¹⁰
dollars (Lua's numbers are doubles: exact to $900,719; a larger budget compares to within
a ten-millionth of a dollar). Keys (built by `redis_wire`), per owner:

- rate windows: a sorted set of request ids scored by admission time (ms); for tokens a hash
  of request id → tokens and `_sum` (an owner limited in both counts requests in its
  token log: one sorted set). Entries older than a minute are dropped before counting.
- concurrency: a sorted set of request ids scored by their deadline; expired ones dropped.
- budget account: a hash `since` (when the counters began), `base` (spent before `since`,
  from the database; absent until rebuilt), `spent` (settled since), `reserved`; and the
  reservations: a sorted set of request ids scored by deadline, a hash of their units; and
  the ids settled in the last two minutes (a sorted set), so that settling twice counts once.

A refusal, or an account awaiting its rebuild, counts nothing.
"""

from __future__ import annotations

_PURGE_RESERVATIONS = """
-- Removes the members of sorted set `set` scored up to `upto` and their amounts in hash
-- `amounts` (a few commands for all of them, not two each); returns the sum of the amounts.
local function drop_until(set, amounts, upto)
  local old = redis.call('ZRANGEBYSCORE', set, '-inf', upto)
  if #old == 0 then return 0 end
  local freed = 0
  for i = 1, #old, 1000 do
    local part = {unpack(old, i, math.min(i + 999, #old))}
    for _, value in ipairs(redis.call('HMGET', amounts, unpack(part))) do
      if value then freed = freed + tonumber(value) end
    end
    redis.call('HDEL', amounts, unpack(part))
  end
  redis.call('ZREMRANGEBYSCORE', set, '-inf', upto)
  return freed
end
-- A reply as one string of integers: parsing one bulk string costs the client far less than
-- parsing a nested array of them (most of the cost of a call, in Python). Groups are
-- written as their length, then their values, flattened.
local function encode(...)
  local out = {}
  for _, group in ipairs({...}) do
    if type(group) == 'table' then
      local flat = {}
      for _, value in ipairs(group) do
        if type(value) == 'table' then
          for _, inner in ipairs(value) do flat[#flat + 1] = inner end
        else
          flat[#flat + 1] = value
        end
      end
      out[#out + 1] = string.format('%.0f', #flat)
      for _, value in ipairs(flat) do out[#out + 1] = string.format('%.0f', value) end
    else
      out[#out + 1] = string.format('%.0f', group)
    end
  end
  return table.concat(out, ',')
end
"""

_CLOCK = """
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""

_BATCH = """
-- What the operations of one call share. Time stands still for the call (`now`), so a set
-- purged up to `now` has nothing left for a second purge to find, and a TTL set from `now`
-- is set: each is done once per key (`first`, `expire`). Counters (hash fields) are read
-- at most once and written once, at the end (`flush`): each operation sees the ones before
-- it, as if each had written its own.
local done, ttls, counts, dirty, cards = {}, {}, {}, {}, {}
local function first(what, key)
  local name = what .. key
  if done[name] then return false end
  done[name] = true
  return true
end
-- Safe to skip a second PEXPIRE: a key is given its TTL only when an admission has just
-- added a member to it, and nothing later in the same call can remove that member (its
-- settlement comes in a later call, after the admission's reply), so the key lives on.
-- The longest TTL asked in the call is the one set.
local function expire(key, ttl)
  if (ttls[key] or -1) >= ttl then return end
  ttls[key] = ttl
  redis.call('PEXPIRE', key, ttl)
end
-- A counter: {key, field, value (nil until read), change not yet written, listed in dirty}
local function counter(key, field, known)
  local name = field .. '|' .. key
  local c = counts[name]
  if not c then
    c = {key, field, nil, 0, false}
    counts[name] = c
  end
  if c[3] == nil and known ~= nil then c[3] = tonumber(known or '0') + c[4] end
  return c
end
local function value(c)
  if c[3] == nil then c[3] = tonumber(redis.call('HGET', c[1], c[2]) or '0') + c[4] end
  return c[3]
end
local function add(c, delta)
  if c[3] ~= nil then c[3] = c[3] + delta end
  c[4] = c[4] + delta
  if not c[5] then
    c[5] = true
    dirty[#dirty + 1] = c
  end
end
local function flush()
  for _, c in ipairs(dirty) do
    if c[4] ~= 0 then redis.call('HINCRBY', c[1], c[2], c[4]) end
  end
end
-- A sorted set's size, counted once, then kept by what the call adds and removes.
local function card(key)
  if cards[key] == nil then cards[key] = redis.call('ZCARD', key) end
  return cards[key]
end
local function card_add(key, n)
  if cards[key] ~= nil then cards[key] = cards[key] + n end
end
-- A budget account's hash: `since` and `base` as read, `spent` and `reserved` as counters.
local accounts = {}
local function account(h)
  local acc = accounts[h]
  if not acc then
    local f = redis.call('HMGET', h, 'since', 'base', 'spent', 'reserved')
    acc = {since = f[1], base = f[2], spent = counter(h, 'spent', f[3] or false),
           reserved = counter(h, 'reserved', f[4] or false)}
    accounts[h] = acc
  end
  return acc
end
local function purge_held(h, r, amt, now)
  if not first('r', r) then return end
  local freed = drop_until(r, amt, now)
  if freed ~= 0 then
    local acc = account(h)
    if acc.since then add(acc.reserved, -freed) end
  end
end
"""

_ADMIT = """
-- Admit one request: ARGV: id, hold_ms, tokens, n_rates, (kind 'r'|'t', limit)*, concurrency limit
--       or -1, n_budgets, (limit, units, ttl_ms)*
-- KEYS: per rate: log (+ amounts for 't'); slots (if any); per budget: hash, resv, amounts
-- Returns (encoded) status 0 admitted|1 refused|2 rebuild, now, refusal{index, remaining,
--          retry, needed}, rates{limit, remaining, reset}*, budgets{spent, reserved}*,
--          rebuild{j, since}*
local W = 60000
local function admit(KEYS, ARGV, now)
  local id, hold, tokens = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
  local a, k = 4, 1
  local refusal = {}
  local nr = tonumber(ARGV[a]); a = a + 1
  local rates = {}
  -- An owner's requests and tokens per minute may share one log (the same ids at the same
  -- times): it is purged once, by its token counter (which frees the tokens of what it
  -- drops), and added to once.
  for i = 1, nr do
    local kind, limit = ARGV[a], tonumber(ARGV[a + 1]); a = a + 2
    local log = KEYS[k]; k = k + 1
    local amounts = false
    if kind == 't' then amounts = KEYS[k]; k = k + 1 end
    rates[i] = {log, amounts, 1, limit, 0}
    if amounts and first('w', log) then
      local freed = drop_until(log, amounts, now - W)
      if freed ~= 0 then add(counter(amounts, '_sum'), -freed) end
    end
  end
  for i, rt in ipairs(rates) do
    local log, amounts, limit = rt[1], rt[2], rt[4]
    local used, amount = 0, 1
    if amounts then
      amount = tokens
      used = value(counter(amounts, '_sum'))
    else
      if first('w', log) then redis.call('ZREMRANGEBYSCORE', log, '-inf', now - W) end
      used = card(log)
    end
    rt[3], rt[5] = amount, used
    if #refusal == 0 and used + amount > limit then
      local retry = W
      if amount <= limit then
        local free, freed = used + amount - limit, 0
        local entries = redis.call('ZRANGE', log, 0, -1, 'WITHSCORES')
        for j = 1, #entries, 2 do
          if amounts then
            freed = freed + tonumber(redis.call('HGET', amounts, entries[j]) or '0')
          else
            freed = freed + 1
          end
          if freed >= free then
            retry = math.max(1, tonumber(entries[j + 1]) + W - now)
            break
          end
        end
      end
      refusal = {i, math.max(0, limit - used), retry, amount}
    end
  end
  local conc = tonumber(ARGV[a]); a = a + 1
  local slots = false
  if conc >= 0 then
    slots = KEYS[k]; k = k + 1
    if first('c', slots) then redis.call('ZREMRANGEBYSCORE', slots, '-inf', now) end
    if #refusal == 0 and card(slots) >= conc then
      refusal = {nr + 1, 0, 1000, 1}
    end
  end
  local nb = tonumber(ARGV[a]); a = a + 1
  local budgets, rebuild = {}, {}
  for j = 1, nb do
    local limit, units, ttl = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
    a = a + 3
    local h, r, amt = KEYS[k], KEYS[k + 1], KEYS[k + 2]; k = k + 3
    local acc = account(h)
    if not acc.since then
      redis.call('HSETNX', h, 'since', now)
      redis.call('PEXPIRE', h, ttl)
      acc.since = tostring(now)
    end
    purge_held(h, r, amt, now)
    if not acc.base then
      rebuild[#rebuild + 1] = j
      rebuild[#rebuild + 1] = tonumber(acc.since)
    end
    local spent = tonumber(acc.base or '0') + value(acc.spent)
    local reserved = value(acc.reserved)
    if #refusal == 0 and acc.base and units > 0 and spent + reserved + units > limit then
      refusal = {nr + 2 + j - 1, math.max(0, limit - spent - reserved), -1, units}
    end
    budgets[j] = {h, r, amt, units, spent, reserved, ttl, acc}
  end
  local status = 0
  if #rebuild > 0 then status = 2 elseif #refusal > 0 then status = 1 end
  if status == 0 then
    local added = {}
    for _, rt in ipairs(rates) do
      if not added[rt[1]] then
        added[rt[1]] = true
        card_add(rt[1], redis.call('ZADD', rt[1], now, id))
        expire(rt[1], W + 1000)
      end
      if rt[2] then
        redis.call('HSET', rt[2], id, rt[3])
        add(counter(rt[2], '_sum'), rt[3])
        expire(rt[2], W + 1000)
      end
    end
    if slots then
      card_add(slots, redis.call('ZADD', slots, now + hold, id))
      expire(slots, hold + 1000)
    end
    for _, b in ipairs(budgets) do
      if b[4] > 0 then
        redis.call('ZADD', b[2], now + hold, id)
        redis.call('HSET', b[3], id, b[4])
        add(b[8].reserved, b[4])
        expire(b[2], b[7])
        expire(b[3], b[7])
      end
    end
  end
  local out_rates, out_budgets = {}, {}
  for _, rt in ipairs(rates) do
    if status == 0 then
      out_rates[#out_rates + 1] = {rt[4], rt[4] - rt[5] - rt[3], W}
    else  -- not counted: the window is whole again when its newest entry leaves it
      local reset = 0
      local newest = redis.call('ZRANGE', rt[1], -1, -1, 'WITHSCORES')
      if #newest > 0 then reset = math.max(0, tonumber(newest[2]) + W - now) end
      out_rates[#out_rates + 1] = {rt[4], math.max(0, rt[4] - rt[5]), reset}
    end
  end
  for _, b in ipairs(budgets) do
    local reserved = b[6]
    if status == 0 then reserved = reserved + b[4] end
    out_budgets[#out_budgets + 1] = {b[5], reserved}
  end
  return encode(status, now, refusal, out_rates, out_budgets, rebuild)
end
"""
ADJUST = (
    _CLOCK
    + _PURGE_RESERVATIONS
    + """
local function purge_reservations(h, r, amt, now)
  local freed = drop_until(r, amt, now)
  if freed ~= 0 and redis.call('HEXISTS', h, 'since') == 1 then
    redis.call('HINCRBY', h, 'reserved', -freed)
  end
end
-- ARGV: id, hold_ms, n_budgets, (limit, units)*   KEYS: per budget: hash, resv, amounts
-- Returns (encoded) status 0|1, now, refusal{index, remaining, retry, needed},
--          budgets{spent, reserved}*
local now = clock()
local id, hold, nb = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local refusal, budgets = {}, {}
for j = 1, nb do
  local limit, units = tonumber(ARGV[2 + 2 * j]), tonumber(ARGV[3 + 2 * j])
  local h, r, amt = KEYS[3 * j - 2], KEYS[3 * j - 1], KEYS[3 * j]
  purge_reservations(h, r, amt, now)
  local f = redis.call('HMGET', h, 'since', 'base', 'spent', 'reserved')
  local spent = tonumber(f[2] or '0') + tonumber(f[3] or '0')
  local reserved = tonumber(f[4] or '0')
  local old = tonumber(redis.call('HGET', amt, id) or '0')
  if #refusal == 0 and f[2] and units > old and spent + reserved - old + units > limit then
    refusal = {j, math.max(0, limit - spent - reserved + old), -1, units}
  end
  budgets[j] = {h, r, amt, units, old, spent, reserved}
end
local out = {}
for _, b in ipairs(budgets) do
  local reserved = b[7]
  if #refusal == 0 and b[4] ~= b[5] then
    if b[4] > 0 then
      redis.call('ZADD', b[2], now + hold, id)
      redis.call('HSET', b[3], id, b[4])
    else
      redis.call('ZREM', b[2], id)
      redis.call('HDEL', b[3], id)
    end
    if redis.call('HEXISTS', b[1], 'since') == 1 then
      redis.call('HINCRBY', b[1], 'reserved', b[4] - b[5])
    end
    reserved = reserved + b[4] - b[5]
  end
  out[#out + 1] = {b[6], reserved}
end
local status = 0
if #refusal > 0 then status = 1 end
return encode(status, now, refusal, out)
"""
)

_SETTLE = """
-- Settle one request: ARGV: id, created_ms, tokens or -1, n_token_hashes, has_slots 0|1,
--       n_budgets, cost*
-- KEYS: token amount hashes, slots (if any), per budget: hash, resv, amounts, settled
-- Settling twice counts once: a settlement whose call timed out may still have run, and is
-- sent again when Redis answers. The ids settled in the last SETTLED_MS say so.
local SETTLED_MS = 120000
local function settle(KEYS, ARGV, now)
  local id, created, tokens = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
  local nt, has_slots, nb = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
  local k = 1
  for i = 1, nt do
    local old = redis.call('HGET', KEYS[k], id)
    if old and tokens >= 0 then
      redis.call('HSET', KEYS[k], id, tokens)
      add(counter(KEYS[k], '_sum'), tokens - tonumber(old))
    end
    k = k + 1
  end
  if has_slots == 1 then
    card_add(KEYS[k], -redis.call('ZREM', KEYS[k], id))
    k = k + 1
  end
  for j = 1, nb do
    local h, r, amt, settled = KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]; k = k + 4
    local cost = tonumber(ARGV[6 + j])
    if redis.call('ZADD', settled, 'NX', now, id) == 0 then cost = 0 end
    if first('s', settled) then
      redis.call('ZREMRANGEBYSCORE', settled, '-inf', now - SETTLED_MS)
    end
    expire(settled, SETTLED_MS)
    local held = redis.call('HGET', amt, id)
    local acc = account(h)
    if held then
      redis.call('HDEL', amt, id)
      redis.call('ZREM', r, id)
      if acc.since then add(acc.reserved, -tonumber(held)) end
    end
    -- A record made before the counters began is the rebuild's to count, from the database.
    if acc.since and cost > 0 and created >= tonumber(acc.since) then
      add(acc.spent, cost)
    end
  end
  return '1'
end
"""

_RENEW = """
-- Renew one request's hold: ARGV: id, hold_ms
-- KEYS: its concurrency slots (if any) and reservations
-- A member still live gets its deadline moved to now + hold; one gone (settled, expired)
-- stays gone.
local function renew(KEYS, ARGV, now)
  local id, hold = ARGV[1], tonumber(ARGV[2])
  for _, key in ipairs(KEYS) do
    local deadline = redis.call('ZSCORE', key, id)
    if deadline and tonumber(deadline) > now then
      redis.call('ZADD', key, 'XX', now + hold, id)
      if redis.call('PTTL', key) < hold + 1000 then redis.call('PEXPIRE', key, hold + 1000) end
    end
  end
  return '1'
end
"""

REQUESTS = (
    _CLOCK
    + _PURGE_RESERVATIONS
    + _BATCH
    + _ADMIT
    + _SETTLE
    + _RENEW
    + """
-- Several operations on requests in one call, in order: ARGV = n, then per operation its
-- kind ('a' admit, 's' settle, 'r' renew), the number of its keys, and its arguments joined
-- by ',' (one string costs the client far less to send than many); KEYS = each operation's
-- keys. Each operation sees its own KEYS and ARGV, as a script of its own would; the replies
-- are joined by ';'.
local ops = {a = admit, s = settle, r = renew}
local now = clock()
local out, k = {}, 1
for d = 1, tonumber(ARGV[1]) do
  local op, nk, args = ops[ARGV[3 * d - 1]], tonumber(ARGV[3 * d]), {}
  for arg in string.gmatch(ARGV[3 * d + 1], '[^,]+') do args[#args + 1] = arg end
  out[d] = op({unpack(KEYS, k, k + nk - 1)}, args, now)
  k = k + nk
end
flush()
return table.concat(out, ';')
"""
)

SEED = """
-- ARGV: since_ms, base   KEYS: account hash.  Sets `base` once, for the counters of `since`.
local since = redis.call('HGET', KEYS[1], 'since')
if since and tonumber(since) == tonumber(ARGV[1]) then
  return redis.call('HSETNX', KEYS[1], 'base', ARGV[2])
end
return 0
"""

SPEND = (
    _CLOCK
    + """
-- KEYS: hash, resv, amounts.  Returns {since or -1, base or -1, spent, reserved (live)}
local now = clock()
local f = redis.call('HMGET', KEYS[1], 'since', 'base', 'spent')
local live = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. now, '+inf')
local reserved = 0
for _, m in ipairs(live) do
  reserved = reserved + tonumber(redis.call('HGET', KEYS[3], m) or '0')
end
return {tonumber(f[1] or '-1'), tonumber(f[2] or '-1'), tonumber(f[3] or '0'), reserved}
"""
)
