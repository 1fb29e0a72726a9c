// The Redis store's Lua scripts (redis_scripts.h). Every script is handed
// "now" rather than calling TIME, and sets TTLs relative to it (PEXPIRE),
// because the store's clock (a ManualClock in tests) is the one that
// counts; see redis_store.cc. Every key a script touches is in its KEYS
// (a Redis Cluster routes by them and refuses keys of another slot), and
// the KEYS of one call share one slot: RedisStore groups ids by slot where
// a call could span several (revocation, listing).
//
// The scripts never see a key: sealed records and their tags (redis_seal.h)
// are made and checked by sessiond; Lua only stores them and compares the
// plain fields (v, ls, ea, ia, u) that say nothing a reader must trust.
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

// KEYS: s, t, e (the epoch hash of the session's own tag).
// Returns {r, v, ls, tombstone, epoch, u, lm} (nil where absent). For a
// logged-in session minted by NewSessionId(user), the session's tag is the
// user's, so its epoch is a field of KEYS[3]; RedisStore reads it from the
// user's own slot when the tags differ.
constexpr std::string_view kLoadLua = R"lua(
local h = redis.call('HMGET', KEYS[1], 'r', 'v', 'ls', 'u', 'lm')
local t = redis.call('GET', KEYS[2])
local e = false
if h[4] and h[4] ~= '' then e = redis.call('HGET', KEYS[3], h[4]) end
return {h[1], h[2], h[3], t, e, h[4], h[5]}
)lua";

// KEYS: s.  ARGV: ls, lm (its seal), pttl.  Moves last-seen forward and
// extends the TTL, leaving the record alone.
constexpr std::string_view kTouchLua = R"lua(
local old = tonumber(redis.call('HGET', KEYS[1], 'ls'))
if not old then return 0 end
if tonumber(ARGV[1]) > old then
  redis.call('HSET', KEYS[1], 'ls', ARGV[1], 'lm', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
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

// KEYS: s, t[, u].  ARGV: r, v, ls, ea, it, ia, user, pttl, now, id, lm.
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
           'ea', ARGV[4], 'it', ARGV[5], 'ia', ARGV[6], 'u', ARGV[7],
           'lm', ARGV[11])
redis.call('PEXPIRE', KEYS[1], ARGV[8])
if KEYS[3] then index_add(KEYS[3], ARGV[10], ARGV[4], now) end
return 'OK'
)lua";

// KEYS: s, t.  ARGV: expected v, r, new v, ls, pttl, now, lm.
// Returns 'OK', 'RACE' (version moved), 'GONE' (no record) or 'REVOKED'.
// ls moves only forward, and always with its seal lm.
constexpr std::string_view kCasLua = R"lua(
local t = redis.call('GET', KEYS[2])
if t and tomb_live(t, tonumber(ARGV[6])) then return 'REVOKED' end
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return 'GONE' end
if v ~= ARGV[1] then return 'RACE' end
redis.call('HSET', KEYS[1], 'r', ARGV[2], 'v', ARGV[3])
local ls = tonumber(redis.call('HGET', KEYS[1], 'ls')) or 0
if tonumber(ARGV[4]) > ls then
  redis.call('HSET', KEYS[1], 'ls', ARGV[4], 'lm', ARGV[7])
end
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

// One slot's share of a revocation.
// KEYS: [u,] s1, t1, s2, t2, ...  (u when ARGV[3] is '1')
// ARGV: now, keep id, '1' | '0', before ('' = every session; else only
//       those whose ia is before it), the tombstones' ":reason:at", then
//       one id per s/t pair, then ids
//       already ended in other slots, to drop from the index.
// Ends every listed session but keep that qualifies (record deleted, id
// tombstoned until its old expiry), removes the ended and the vanished ones
// from the index (when it is here), and returns {ended, {ids done}}: the
// ids ended or found without a record. Works from the hash fields, so a
// corrupt record is removed too.
constexpr std::string_view kRevokeLua = R"lua(
local now = tonumber(ARGV[1])
local off = 0
if ARGV[3] == '1' then off = 1 end
local pairs_n = (#KEYS - off) / 2
local before = tonumber(ARGV[4])
local n = 0
local done = {}
for i = 1, pairs_n do
  local id = ARGV[5 + i]
  local sk = KEYS[off + 2 * i - 1]
  local tk = KEYS[off + 2 * i]
  if id ~= ARGV[2] then
    local h = redis.call('HMGET', sk, 'ea', 'ia')
    local ea = tonumber(h[1])
    if not h[1] then
      done[#done + 1] = id
    elseif before == nil or (tonumber(h[2]) or 0) < before then
      redis.call('DEL', sk)
      if ea and ea > now then
        redis.call('SET', tk, h[1] .. ARGV[5], 'PX',
                   math.max(1000, (ea - now) * 1000))
      end
      n = n + 1
      done[#done + 1] = id
    end
  end
end
if off == 1 then
  for _, id in ipairs(done) do redis.call('ZREM', KEYS[1], id) end
  for i = 6 + pairs_n, #ARGV do redis.call('ZREM', KEYS[1], ARGV[i]) end
end
return {n, done}
)lua";

// One slot's share of a listing.
// KEYS: [u, e,] s1, s2, ...  (u and e when ARGV[1] is '1')
// ARGV: '1' | '0', user, id1, id2, ...
// Returns {epoch (when e is here, else nil), {{r, v, ls, lm, u}, ...}};
// index entries whose record is gone (TTL, destroy) are pruned on the way
// when the index is here.
constexpr std::string_view kReadManyLua = R"lua(
local off = 0
if ARGV[1] == '1' then off = 2 end
local out = {}
for i = 3, #ARGV do
  local h = redis.call('HMGET', KEYS[off + i - 2], 'r', 'v', 'ls', 'lm', 'u')
  if off == 2 and not h[1] then redis.call('ZREM', KEYS[1], ARGV[i]) end
  out[i - 2] = {h[1], h[2], h[3], h[4], h[5]}
end
local e = false
if off == 2 then e = redis.call('HGET', KEYS[2], ARGV[2]) end
return {e, out}
)lua";

// KEYS: e (the epoch hash of the user's tag).  ARGV: epoch (unix us),
// user, reason.  Stores "us:reason" in the user's field and returns us;
// the epoch never moves backwards, the reason is the latest.
constexpr std::string_view kBumpLua = R"lua(
local old = redis.call('HGET', KEYS[1], ARGV[2])
local e = ARGV[1]
if old then
  local o = string.match(old, '^%d+')
  if o and tonumber(o) >= tonumber(e) then e = o end
end
redis.call('HSET', KEYS[1], ARGV[2], e .. ':' .. ARGV[3])
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

// KEYS: s.  ARGV: the r read, the r to write, the ls read ('' = none),
// lm for that ls.  Replaces the record only if it is still the one read
// (a layout migration sealing an old record, or a reseal with the newest
// key), and its last-seen seal only if ls has not moved meanwhile.
// Returns 1 when it wrote, 0 when the record had changed.
constexpr std::string_view kResealLua = R"lua(
local h = redis.call('HMGET', KEYS[1], 'r', 'ls')
if h[1] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'r', ARGV[2])
if ARGV[3] ~= '' and h[2] == ARGV[3] then
  redis.call('HSET', KEYS[1], 'lm', ARGV[4])
end
return 1
)lua";

// KEYS: an old epoch string P:{T}:e:<user>, the epoch hash P:{T}:e (same
// tag, same slot).  ARGV: user.  Moves the epoch into the hash, keeping
// the later one if both exist, and deletes the string. Returns 1 when it
// moved one.
constexpr std::string_view kMigrateEpochLua = R"lua(
local old = redis.call('GET', KEYS[1])
if not old then return 0 end
local cur = redis.call('HGET', KEYS[2], ARGV[1])
local o = tonumber(string.match(old, '^%d+'))
local c = cur and tonumber(string.match(cur, '^%d+'))
if o and (not c or o > c) then redis.call('HSET', KEYS[2], ARGV[1], old) end
redis.call('DEL', KEYS[1])
return 1
)lua";

// KEYS: an epoch hash.  ARGV: epoch value, user.  Sets the user's field
// to the value unless it already holds a later one (leading numbers
// compared, so a value with a suffix compares by its time).
constexpr std::string_view kEpochMaxLua = R"lua(
local cur = redis.call('HGET', KEYS[1], ARGV[2])
local n = tonumber(string.match(ARGV[1], '^%d+'))
local c = cur and tonumber(string.match(cur, '^%d+'))
if n and (not c or n > c) then redis.call('HSET', KEYS[1], ARGV[2], ARGV[1]) end
return 1
)lua";

// KEYS: u.  ARGV: now, then id, score pairs.  Adds them to the index
// (as Create does: pruned, TTL at the latest member).
constexpr std::string_view kIndexMergeLua = R"lua(
local now = tonumber(ARGV[1])
for i = 2, #ARGV - 1, 2 do index_add(KEYS[1], ARGV[i], ARGV[i + 1], now) end
return 1
)lua";

// The first line of the scripts that end sessions (Redis 7 script flags):
// they run when Redis is at maxmemory (noeviction), where every other
// write is refused with OOM. A sign-out, a revocation or a password change
// must never fail because the store is full; it frees room or adds a small
// tombstone or epoch. Without the flag, a script whose first write is a
// denied one (the epoch's HSET) failed at maxmemory.
constexpr std::string_view kAllowOom = "#!lua flags=allow-oom\n";

}  // namespace

RedisScripts::RedisScripts()
    : load{"load", std::string(kLoadLua), {}},
      touch{"touch", std::string(kTouchLua), {}},
      create{"create",
             std::string(kLeadLua) + std::string(kIndexAddLua) +
                 std::string(kCreateLua),
             {}},
      cas{"cas", std::string(kLeadLua) + std::string(kCasLua), {}},
      destroy{"destroy",
              std::string(kAllowOom) + std::string(kLeadLua) +
                  std::string(kDestroyLua),
              {}},
      range{"range", std::string(kRangeLua), {}},
      revoke{"revoke", std::string(kAllowOom) + std::string(kRevokeLua), {}},
      read_many{"read_many", std::string(kReadManyLua), {}},
      bump{"bump", std::string(kAllowOom) + std::string(kBumpLua), {}},
      sweep_one{
          "sweep_one", std::string(kLeadLua) + std::string(kSweepOneLua), {}},
      marker_put{
          "marker_put", std::string(kLeadLua) + std::string(kMarkerPutLua), {}},
      marker_take{"marker_take", std::string(kMarkerTakeLua), {}},
      reseal{"reseal", std::string(kResealLua), {}},
      migrate_epoch{"migrate_epoch", std::string(kMigrateEpochLua), {}},
      epoch_max{"epoch_max", std::string(kEpochMaxLua), {}},
      index_merge{"index_merge",
                  std::string(kIndexAddLua) + std::string(kIndexMergeLua),
                  {}} {}

std::vector<RedisScript*> RedisScripts::All() {
  return {&load,    &touch,         &create,     &cas,
          &destroy, &range,         &revoke,     &read_many,
          &bump,    &sweep_one,     &marker_put, &marker_take,
          &reseal,  &migrate_epoch, &epoch_max,  &index_merge};
}

}  // namespace sessiond
