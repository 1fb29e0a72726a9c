// The Redis store's Lua scripts, one per operation that must be atomic in
// Redis (redis_scripts.cc holds each, with the KEYS and ARGV it takes and
// what it returns). Their key layout is described at the top of
// redis_store.cc and in docs/storage.md. RedisConnection learns each
// script's SHA1 on connect and runs it with EVALSHA.
#pragma once

#include <vector>

#include "store/redis_connection.h"

namespace sessiond {

struct RedisScripts {
  RedisScripts();
  RedisScripts(const RedisScripts&) = delete;
  RedisScripts& operator=(const RedisScripts&) = delete;

  // Every script, for RedisConnection to load.
  std::vector<RedisScript*> All();

  RedisScript load;           // read one session, its tombstone and epoch
  RedisScript touch;          // move last-seen forward
  RedisScript create;         // insert a session (and index it)
  RedisScript cas;            // write a session over the version read
  RedisScript destroy;        // end a session, tombstone its id
  RedisScript range;          // a user's indexed ids
  RedisScript revoke;         // end one slot's share of a user's sessions
  RedisScript read_many;      // read one slot's share of a user's sessions
  RedisScript bump;           // move a user's epoch forward
  RedisScript sweep_one;      // drop one key past its expiry
  RedisScript marker_put;     // write a marker (optionally only if absent)
  RedisScript marker_take;    // remove a marker, returning it
  RedisScript reseal;         // replace a record still as read (new seal)
  RedisScript migrate_epoch;  // layout 1 -> 2: an epoch string into its hash
  RedisScript epoch_max;      // an epoch into a user's field, if later
  RedisScript index_merge;    // index entries into a user's index
};

}  // namespace sessiond
