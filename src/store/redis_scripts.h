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

  RedisScript load;         // read one session, its tombstone and epoch
  RedisScript touch;        // move last-seen forward
  RedisScript create;       // insert a session (and index it)
  RedisScript cas;          // write a session over the version read
  RedisScript destroy;      // end a session, tombstone its id
  RedisScript range;        // a user's indexed ids
  RedisScript revoke;       // end a user's sessions but one
  RedisScript read_many;    // read a user's sessions and epoch
  RedisScript bump;         // move a user's epoch forward
  RedisScript sweep_one;    // drop one key past its expiry
  RedisScript marker_put;   // write a marker (optionally only if absent)
  RedisScript marker_take;  // remove a marker, returning it
};

}  // namespace sessiond
