// The binary record of a Session: what the LMDB store keeps per session and
// what a client-mode cookie carries (inside its AEAD). Compact (varints,
// length-prefixed strings) and versioned by its first byte; the grammar is at
// the top of session_codec.cc. Internal to sessiond; thread-safe (pure).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sessiond/session.h"
#include "sessiond/status.h"

namespace sessiond {

// The format bytes: version 1, and version 2 (version 1 plus extension
// fields), which EncodeSession writes only when an extension field is set.
// DecodeSession reads both.
inline constexpr uint8_t kSessionRecordFormat = 0x01;
inline constexpr uint8_t kSessionRecordFormatExtended = 0x02;

// Encodes every field of s. Never fails.
std::string EncodeSession(const Session& s);

// Decodes a record written by EncodeSession. Reads only inside `bytes`.
// Errors: kCorrupt for anything malformed (unknown format byte, truncated
// field, over-long or non-minimal varint, counts larger than the input,
// unsorted or duplicate keys, trailing bytes).
Result<Session> DecodeSession(std::string_view bytes);

}  // namespace sessiond
