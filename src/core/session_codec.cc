// Encoding and decoding of the Session record (see session_codec.h).
//
// Byte format, version 1:
//
//   record       := format:u8(=0x01)
//                   id:bytes user_id:bytes csrf_token:bytes
//                   created_at:svarint last_seen_at:svarint
//                   expires_at:svarint idle_timeout:svarint
//                   issued_at_us:svarint
//                   ip:bytes user_agent:bytes version:uvarint
//                   data_count:uvarint data_entry{data_count}
//                   erased_count:uvarint erased_entry{erased_count}
//                   flash_count:uvarint flash_entry{flash_count}
//   data_entry   := key:bytes value:bytes key_version:uvarint
//                   ; 0 = the key has no version, else version + 1
//   erased_entry := key:bytes version:uvarint
//                   ; key_versions of keys not in data (erased keys)
//   flash_entry  := queue:bytes message:bytes       ; oldest first
//   bytes        := length:uvarint u8{length}
//   uvarint      := LEB128 of a uint64: 7 bits per byte, least significant
//                   group first, high bit = more; 1..10 bytes, minimal (no
//                   final 0x00 group after the first byte)
//   svarint      := uvarint of zigzag(int64): (n << 1) ^ (n >> 63)
//
// Keys of data_entry, and of erased_entry, are strictly ascending (the order
// of std::map), and no erased key is also a data key; a version 1 record
// ends exactly after the last flash_entry. Anything else is kCorrupt.
//
// Version 2 (format byte 0x02) is version 1's fields followed by extension
// fields, so that fields added later need no new format byte:
//
//   record_v2    := format:u8(=0x02) <the fields of version 1 after format>
//                   ext_count:uvarint ext_entry{ext_count}
//   ext_entry    := tag:uvarint value:bytes   ; tags strictly ascending
//   tag 1        authenticated_at: value = svarint (no other bytes)
//   tag 2        cookie rotation: value = cookie_issued_us:svarint
//                previous_cookie_issued_us:svarint
//                previous_cookie_until:svarint (no other bytes)
//   tag 3        the DBSC binding (Session::dbsc):
//                  dbsc_id:bytes jwk:bytes thumbprint:bytes alg:bytes
//                  registered_at:svarint refreshed_at:svarint
//                  proven_at_us:svarint refresh_count:uvarint
//                  count:uvarint challenge{count}
//   tag 4        DBSC registration challenges (Session::dbsc_offers):
//                  count:uvarint offer{count}
//   challenge    := value:bytes expires_at:svarint
//   offer        := value:bytes expires_at:svarint authorization:bytes
//
// An unknown tag is skipped (a newer sessiond wrote it; its field is lost
// on the next write, which an older sessiond cannot help). EncodeSession
// writes version 1 when no extension field is set, so anonymous and older
// records keep their exact bytes.
#include "core/session_codec.h"

#include <utility>

namespace sessiond {
namespace {

void PutUvarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void PutSvarint(std::string& out, int64_t v) {
  PutUvarint(out,
             (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}

void PutBytes(std::string& out, std::string_view s) {
  PutUvarint(out, s.size());
  out.append(s);
}

// A bounds-checked cursor over the input; every getter fails instead of
// reading past the end.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool Uvarint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return false;
      const auto byte = static_cast<uint8_t>(in_[pos_++]);
      const uint64_t group = byte & 0x7F;
      // The tenth byte may carry only the top bit of a uint64.
      if (shift == 63 && group > 1) return false;
      v |= group << shift;
      if ((byte & 0x80) == 0) {
        return !(group == 0 && shift > 0);  // minimal encoding only
      }
    }
    return false;
  }

  bool Svarint(int64_t& v) {
    uint64_t u;
    if (!Uvarint(u)) return false;
    v = static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1);
    return true;
  }

  bool Bytes(std::string& s) {
    uint64_t n;
    if (!Uvarint(n) || n > in_.size() - pos_) return false;
    s.assign(in_.substr(pos_, n));
    pos_ += n;
    return true;
  }

  // A count of entries each at least `min_entry_bytes` long: more than the
  // rest of the input could hold is corrupt (and would be a huge reserve).
  bool Count(uint64_t& n, size_t min_entry_bytes) {
    return Uvarint(n) && n <= (in_.size() - pos_) / min_entry_bytes;
  }

  bool Byte(uint8_t& b) {
    if (pos_ >= in_.size()) return false;
    b = static_cast<uint8_t>(in_[pos_++]);
    return true;
  }

  bool AtEnd() const { return pos_ == in_.size(); }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

Status Corrupt(const char* what) {
  return Status(Code::kCorrupt, std::string("session record: ") + what);
}

}  // namespace

// Extension field tags (see the grammar above).
constexpr uint64_t kTagAuthenticatedAt = 1;
constexpr uint64_t kTagCookieRotation = 2;
constexpr uint64_t kTagDbscBinding = 3;
constexpr uint64_t kTagDbscOffers = 4;

namespace {

void PutExtension(std::string& out, uint64_t tag, std::string_view value) {
  PutUvarint(out, tag);
  PutBytes(out, value);
}

std::string EncodeBinding(const DbscBinding& b) {
  std::string v;
  PutBytes(v, b.dbsc_id);
  PutBytes(v, b.jwk);
  PutBytes(v, b.thumbprint);
  PutBytes(v, b.alg);
  PutSvarint(v, b.registered_at);
  PutSvarint(v, b.refreshed_at);
  PutSvarint(v, b.proven_at_us);
  PutUvarint(v, b.refresh_count);
  PutUvarint(v, b.challenges.size());
  for (const DbscChallenge& c : b.challenges) {
    PutBytes(v, c.value);
    PutSvarint(v, c.expires_at);
  }
  return v;
}

std::string EncodeOffers(const std::vector<DbscChallenge>& offers) {
  std::string v;
  PutUvarint(v, offers.size());
  for (const DbscChallenge& c : offers) {
    PutBytes(v, c.value);
    PutSvarint(v, c.expires_at);
    PutBytes(v, c.authorization);
  }
  return v;
}

bool DecodeBinding(std::string_view value, DbscBinding& b) {
  Reader r(value);
  uint64_t count;
  if (!r.Bytes(b.dbsc_id) || !r.Bytes(b.jwk) || !r.Bytes(b.thumbprint) ||
      !r.Bytes(b.alg) || !r.Svarint(b.registered_at) ||
      !r.Svarint(b.refreshed_at) || !r.Svarint(b.proven_at_us) ||
      !r.Uvarint(b.refresh_count) || !r.Count(count, 2)) {
    return false;
  }
  for (uint64_t i = 0; i < count; ++i) {
    DbscChallenge c;
    if (!r.Bytes(c.value) || !r.Svarint(c.expires_at)) return false;
    b.challenges.push_back(std::move(c));
  }
  return r.AtEnd();
}

bool DecodeOffers(std::string_view value, std::vector<DbscChallenge>& out) {
  Reader r(value);
  uint64_t count;
  if (!r.Count(count, 3)) return false;
  for (uint64_t i = 0; i < count; ++i) {
    DbscChallenge c;
    if (!r.Bytes(c.value) || !r.Svarint(c.expires_at) ||
        !r.Bytes(c.authorization)) {
      return false;
    }
    out.push_back(std::move(c));
  }
  return r.AtEnd();
}

}  // namespace

std::string EncodeSession(const Session& s) {
  std::string out;
  out.reserve(128 + s.user_agent.size() + DataBytes(s));
  const bool rotated = s.cookie_issued_us != 0 ||
                       s.previous_cookie_issued_us != 0 ||
                       s.previous_cookie_until != 0;
  const bool extended = s.authenticated_at != 0 || rotated || s.dbsc ||
                        !s.dbsc_offers.empty();
  out.push_back(static_cast<char>(extended ? kSessionRecordFormatExtended
                                           : kSessionRecordFormat));
  PutBytes(out, s.id);
  PutBytes(out, s.user_id);
  PutBytes(out, s.csrf_token);
  PutSvarint(out, s.created_at);
  PutSvarint(out, s.last_seen_at);
  PutSvarint(out, s.expires_at);
  PutSvarint(out, s.idle_timeout);
  PutSvarint(out, s.issued_at_us);
  PutBytes(out, s.ip);
  PutBytes(out, s.user_agent);
  PutUvarint(out, s.version);

  PutUvarint(out, s.data.size());
  for (const auto& [key, value] : s.data) {
    PutBytes(out, key);
    PutBytes(out, value);
    auto it = s.key_versions.find(key);
    PutUvarint(out, it == s.key_versions.end() ? 0 : it->second + 1);
  }
  size_t erased = 0;
  for (const auto& [key, v] : s.key_versions) {
    if (s.data.count(key) == 0) ++erased;
  }
  PutUvarint(out, erased);
  for (const auto& [key, v] : s.key_versions) {
    if (s.data.count(key) != 0) continue;
    PutBytes(out, key);
    PutUvarint(out, v);
  }
  PutUvarint(out, s.flash.size());
  for (const auto& f : s.flash) {
    PutBytes(out, f.queue);
    PutBytes(out, f.message);
  }
  if (extended) {
    const uint64_t count = (s.authenticated_at != 0 ? 1 : 0) +
                           (rotated ? 1 : 0) + (s.dbsc ? 1 : 0) +
                           (s.dbsc_offers.empty() ? 0 : 1);
    PutUvarint(out, count);
    if (s.authenticated_at != 0) {
      std::string value;
      PutSvarint(value, s.authenticated_at);
      PutExtension(out, kTagAuthenticatedAt, value);
    }
    if (rotated) {
      std::string value;
      PutSvarint(value, s.cookie_issued_us);
      PutSvarint(value, s.previous_cookie_issued_us);
      PutSvarint(value, s.previous_cookie_until);
      PutExtension(out, kTagCookieRotation, value);
    }
    if (s.dbsc) PutExtension(out, kTagDbscBinding, EncodeBinding(*s.dbsc));
    if (!s.dbsc_offers.empty()) {
      PutExtension(out, kTagDbscOffers, EncodeOffers(s.dbsc_offers));
    }
  }
  return out;
}

Result<Session> DecodeSession(std::string_view bytes) {
  Reader r(bytes);
  uint8_t format;
  if (!r.Byte(format)) return Corrupt("empty");
  if (format != kSessionRecordFormat &&
      format != kSessionRecordFormatExtended) {
    return Corrupt("unknown format byte");
  }

  Session s;
  if (!r.Bytes(s.id) || !r.Bytes(s.user_id) || !r.Bytes(s.csrf_token) ||
      !r.Svarint(s.created_at) || !r.Svarint(s.last_seen_at) ||
      !r.Svarint(s.expires_at) || !r.Svarint(s.idle_timeout) ||
      !r.Svarint(s.issued_at_us) || !r.Bytes(s.ip) || !r.Bytes(s.user_agent) ||
      !r.Uvarint(s.version)) {
    return Corrupt("truncated or malformed header");
  }

  uint64_t count;
  // data_entry is at least 3 bytes: two empty lengths and a version.
  if (!r.Count(count, 3)) return Corrupt("bad data count");
  for (uint64_t i = 0; i < count; ++i) {
    std::string key, value;
    uint64_t v1;
    if (!r.Bytes(key) || !r.Bytes(value) || !r.Uvarint(v1)) {
      return Corrupt("truncated data entry");
    }
    if (!s.data.empty() && !(s.data.rbegin()->first < key)) {
      return Corrupt("data keys out of order");
    }
    if (v1 != 0) s.key_versions.emplace(key, v1 - 1);
    s.data.emplace_hint(s.data.end(), std::move(key), std::move(value));
  }

  if (!r.Count(count, 2)) return Corrupt("bad erased-key count");
  std::string last_erased;
  for (uint64_t i = 0; i < count; ++i) {
    std::string key;
    uint64_t v;
    if (!r.Bytes(key) || !r.Uvarint(v)) return Corrupt("truncated erased key");
    if ((i > 0 && !(last_erased < key)) || s.data.count(key) != 0) {
      return Corrupt("erased keys out of order or duplicated");
    }
    last_erased = key;
    s.key_versions.emplace(std::move(key), v);
  }

  if (!r.Count(count, 2)) return Corrupt("bad flash count");
  s.flash.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    FlashMessage f;
    if (!r.Bytes(f.queue) || !r.Bytes(f.message)) {
      return Corrupt("truncated flash message");
    }
    s.flash.push_back(std::move(f));
  }
  if (format == kSessionRecordFormatExtended) {
    // ext_entry is at least 2 bytes: a tag and an empty length.
    if (!r.Count(count, 2)) return Corrupt("bad extension count");
    uint64_t last_tag = 0;
    for (uint64_t i = 0; i < count; ++i) {
      uint64_t tag;
      std::string value;
      if (!r.Uvarint(tag) || !r.Bytes(value)) {
        return Corrupt("truncated extension field");
      }
      if (i > 0 && tag <= last_tag) return Corrupt("extension tags unordered");
      last_tag = tag;
      if (tag == kTagAuthenticatedAt) {
        Reader field(value);
        if (!field.Svarint(s.authenticated_at) || !field.AtEnd()) {
          return Corrupt("bad authenticated_at");
        }
      } else if (tag == kTagCookieRotation) {
        Reader field(value);
        if (!field.Svarint(s.cookie_issued_us) ||
            !field.Svarint(s.previous_cookie_issued_us) ||
            !field.Svarint(s.previous_cookie_until) || !field.AtEnd()) {
          return Corrupt("bad cookie rotation");
        }
      } else if (tag == kTagDbscBinding) {
        DbscBinding binding;
        if (!DecodeBinding(value, binding)) return Corrupt("bad dbsc binding");
        s.dbsc = std::move(binding);
      } else if (tag == kTagDbscOffers) {
        if (!DecodeOffers(value, s.dbsc_offers)) {
          return Corrupt("bad dbsc offers");
        }
      }
    }
  }
  if (!r.AtEnd()) return Corrupt("trailing bytes");
  return s;
}

}  // namespace sessiond
