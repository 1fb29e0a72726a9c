// The keyed hash that names a session on the event stream
// (src/server/events.h), beside UserTag because it uses the same key.
#pragma once

#include <string>
#include <string_view>

namespace sessiond {

// 22 base64url characters (128 bits) of HMAC-SHA-256 under the user tag
// key (sessiond/session.h), of the id behind a prefix no user id can take,
// so it is never a user tag. Stable for one id (a LOGIN's new id is a new
// subject); without the key nobody gets from it to the id, and the id
// alone is no cookie either. Thread-safe.
std::string EventSessionHash(std::string_view session_id);

}  // namespace sessiond
