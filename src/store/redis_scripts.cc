// The Redis store's Lua scripts (redis_scripts.h). Every script is handed
// "now" rather than calling TIME, and sets TTLs relative to it (PEXPIRE),
// because the store's clock (a ManualClock in tests) is the one that
// counts; see redis_store.cc.
#include "store/redis_scripts.h"

#include <string>
#include <string_view>

namespace sessiond {
namespace {

// The leading number of a tombstone ("until", or "until:reason:at" since
// tombstones keep why they were made), an epoch ("us" or "us:reason") or a
// marker ("expires_at:value"); nil when there is none. A tombstone without
// one lives (it must never let its id come back).
constexpr std::string_view kLeadLua = R"lua(
local function lead(v) return tonumber(string.match(v, '^%-?%d+')) end
local function tomb_live(t, now)
  local u = lead(t)
  return u == nil or u > now
end
)lua";

// KEYS: s, t.  ARGV: the epoch key prefix "P:{T}:e:".
// Returns {r, v, ls, tombstone, epoch} (nil where absent). The epoch key
// is built here from the user field: it shares the session's slot for
// every logged-in session (see the layout above).
constexpr std::string_view kLoadLua = R"lua(
local h = redis.call('HMGET', KEYS[1], 'r', 'v', 'ls', 'u')
local t = redis.call('GET', KEYS[2])
local e = false
if h[4] and h[4] ~= '' then e = redis.call('GET', ARGV[1] .. h[4]) end
return {h[1], h[2], h[3], t, e}
)lua";

// KEYS: s.  ARGV: ls, pttl.  Moves last-seen forward and extends the TTL,
// leaving the record alone.
constexpr std::string_view kTouchLua = R"lua(
local old = redis.call('HGET', KEYS[1], 'ls')
if not old then return 0 end
if tonumber(ARGV[1]) > tonumber(old) then
  redis.call('HSET', KEYS[1], 'ls', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
)lua";

// Adds id to a user index, prunes entries past their absolute expiry and
// keeps the index's TTL at its latest member's expiry.
constexpr std::string_view kIndexAddLua = R"lua(
local function index_add(ukey, id, ea, now)
  redis.call('ZADD', ukey, ea, id)
  redis.call('ZREMRANGEBYSCORE', ukey, '-inf', now)
  local last = redis.call('ZRANGE', ukey, -1, -1, 'WITHSCORES')
  if last[2] then
    redis.call('PEXPIRE', ukey, math.max(1000, (tonumber(last[2]) - now) * 1000))
  end
end
)lua";

// KEYS: s, t[, u].  ARGV: r, v, ls, ea, it, ia, user, pttl, now, id.
// Returns 'OK' or 'EXISTS' (a record or a live tombstone has this id).
constexpr std::string_view kCreateLua = R"lua(
local now = tonumber(ARGV[9])
if redis.call('EXISTS', KEYS[1]) == 1 then return 'EXISTS' end
local t = redis.call('GET', KEYS[2])
if t then
  if tomb_live(t, now) then return 'EXISTS' end
  redis.call('DEL', KEYS[2])
end
redis.call('HSET', KEYS[1], 'r', ARGV[1], 'v', ARGV[2], 'ls', ARGV[3],
           'ea', ARGV[4], 'it', ARGV[5], 'ia', ARGV[6], 'u', ARGV[7])
redis.call('PEXPIRE', KEYS[1], ARGV[8])
if KEYS[3] then index_add(KEYS[3], ARGV[10], ARGV[4], now) end
return 'OK'
)lua";

// KEYS: s, t.  ARGV: expected v, r, new v, ls, pttl, now.
// Returns 'OK', 'RACE' (version moved), 'GONE' (no record) or 'REVOKED'.
constexpr std::string_view kCasLua = R"lua(
local t = redis.call('GET', KEYS[2])
if t and tomb_live(t, tonumber(ARGV[6])) then return 'REVOKED' end
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return 'GONE' end
if v ~= ARGV[1] then return 'RACE' end
redis.call('HSET', KEYS[1], 'r', ARGV[2], 'v', ARGV[3])
local ls = tonumber(redis.call('HGET', KEYS[1], 'ls')) or 0
if tonumber(ARGV[4]) > ls then redis.call('HSET', KEYS[1], 'ls', ARGV[4]) end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 'OK'
)lua";

// KEYS: s, t[, u].  ARGV: expected v ('' = any), tombstone value
// ("until:reason:at", '' = no tombstone), tombstone pttl, id, now.
// Returns 'OK', 'RACE', 'GONE' or 'REVOKED'.
constexpr std::string_view kDestroyLua = R"lua(
local t = redis.call('GET', KEYS[2])
if t and tomb_live(t, tonumber(ARGV[5])) then return 'REVOKED' end
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return 'GONE' end
if ARGV[1] ~= '' and v ~= ARGV[1] then return 'RACE' end
redis.call('DEL', KEYS[1])
if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3]) end
if KEYS[3] then redis.call('ZREM', KEYS[3], ARGV[4]) end
return 'OK'
)lua";

// KEYS: u.  ARGV: now.  Prunes expired index entries, returns the ids.
constexpr std::string_view kRangeLua = R"lua(
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)
)lua";

// KEYS: u, then s1, t1, s2, t2, ...  ARGV: now, keep id, the tombstones'
// ":reason:at", id1, id2, ...
// Ends every listed session but keep (record deleted, id tombstoned until
// its old expiry, index entry removed) and returns how many records it
// removed. Works from the hash fields, so a corrupt record is removed too.
constexpr std::string_view kRevokeLua = R"lua(
local now = tonumber(ARGV[1])
local n = 0
for i = 4, #ARGV do
  local id = ARGV[i]
  local sk = KEYS[2 * (i - 4) + 2]
  local tk = KEYS[2 * (i - 4) + 3]
  if id ~= ARGV[2] then
    local ea = redis.call('HGET', sk, 'ea')
    if ea then
      redis.call('DEL', sk)
      if tonumber(ea) > now then
        redis.call('SET', tk, ea .. ARGV[3], 'PX',
                   math.max(1000, (tonumber(ea) - now) * 1000))
      end
      n = n + 1
    end
    redis.call('ZREM', KEYS[1], id)
  end
end
return n
)lua";

// KEYS: u, e, s1, s2, ...  ARGV: id1, id2, ...
// Returns {epoch, {{r, v, ls}, ...}}; index entries whose record is gone
// (TTL, destroy) are pruned on the way.
constexpr std::string_view kReadManyLua = R"lua(
local out = {}
for i = 1, #ARGV do
  local h = redis.call('HMGET', KEYS[i + 2], 'r', 'v', 'ls')
  if not h[1] then redis.call('ZREM', KEYS[1], ARGV[i]) end
  out[i] = {h[1], h[2], h[3]}
end
return {redis.call('GET', KEYS[2]), out}
)lua";

// KEYS: e.  ARGV: epoch (unix us), reason.  Stores "us:reason" and
// returns us; the epoch never moves backwards, the reason is the latest.
constexpr std::string_view kBumpLua = R"lua(
local old = redis.call('GET', KEYS[1])
local e = ARGV[1]
if old then
  local o = string.match(old, '^%d+')
  if o and tonumber(o) >= tonumber(e) then e = o end
end
redis.call('SET', KEYS[1], e .. ':' .. ARGV[2])
return e
)lua";

// KEYS: m.  ARGV: stored value ("expires_at:value"), pttl, now, '1' to
// write only when no live marker is there.  Returns {1} when written, or
// {0, the live marker's stored value}.
constexpr std::string_view kMarkerPutLua = R"lua(
if ARGV[4] == '1' then
  local old = redis.call('GET', KEYS[1])
  if old then
    local ea = lead(old)
    if ea and ea > tonumber(ARGV[3]) then return {0, old} end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1}
)lua";

// KEYS: m.  Removes the marker and returns its stored value (nil if none).
constexpr std::string_view kMarkerTakeLua = R"lua(
local v = redis.call('GET', KEYS[1])
if v then redis.call('DEL', KEYS[1]) end
return v
)lua";

// KEYS: one s, t or m key.  ARGV: now.  Deletes it if it is past its
// absolute expiry (session: returns 2) or its end (tombstone, marker:
// returns 1); else 0.
constexpr std::string_view kSweepOneLua = R"lua(
local now = tonumber(ARGV[1])
local ty = redis.call('TYPE', KEYS[1])['ok']
if ty == 'hash' then
  local ea = tonumber(redis.call('HGET', KEYS[1], 'ea'))
  if ea and now >= ea then redis.call('DEL', KEYS[1]) return 2 end
elseif ty == 'string' then
  local t = lead(redis.call('GET', KEYS[1]))
  if t and t <= now then redis.call('DEL', KEYS[1]) return 1 end
end
return 0
)lua";

}  // namespace

RedisScripts::RedisScripts()
    : load{"load", std::string(kLoadLua), {}},
      touch{"touch", std::string(kTouchLua), {}},
      create{"create",
             std::string(kLeadLua) + std::string(kIndexAddLua) +
                 std::string(kCreateLua),
             {}},
      cas{"cas", std::string(kLeadLua) + std::string(kCasLua), {}},
      destroy{"destroy", std::string(kLeadLua) + std::string(kDestroyLua), {}},
      range{"range", std::string(kRangeLua), {}},
      revoke{"revoke", std::string(kRevokeLua), {}},
      read_many{"read_many", std::string(kReadManyLua), {}},
      bump{"bump", std::string(kBumpLua), {}},
      sweep_one{
          "sweep_one", std::string(kLeadLua) + std::string(kSweepOneLua), {}},
      marker_put{
          "marker_put", std::string(kLeadLua) + std::string(kMarkerPutLua), {}},
      marker_take{"marker_take", std::string(kMarkerTakeLua), {}} {}

std::vector<RedisScript*> RedisScripts::All() {
  return {&load,   &touch,     &create, &cas,       &destroy,    &range,
          &revoke, &read_many, &bump,   &sweep_one, &marker_put, &marker_take};
}

}  // namespace sessiond
