// The session model's rules: ids and tokens, validation, applying a change
// set with per-key conflict detection, login, flash, CSRF and expiry. Every
// store calls these, so memory, LMDB and Redis agree on what a commit means.
#include "sessiond/session.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>

#include "core/event_hash.h"
#include "sessiond/random.h"
#include "sessiond/secret_bytes.h"

namespace sessiond {
namespace {

constexpr int kB64Variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
constexpr size_t kIdRandomBytes = 24;    // 32 base64url chars, 192 bits
constexpr size_t kCsrfRandomBytes = 32;  // 43 base64url chars, 256 bits
constexpr size_t kTagRandomBytes = 6;    // 8 base64url chars

// libsodium's primitives used here need no sodium_init(), but calling it once
// is cheap and keeps the library's CPU-feature choices initialized.
void EnsureSodium() {
  static const int rc = sodium_init();
  if (rc < 0) {
    std::fputs("sessiond: sodium_init failed\n", stderr);
    std::abort();
  }
}

std::string Base64Url(const unsigned char* bin, size_t n) {
  std::string out(sodium_base64_ENCODED_LEN(n, kB64Variant), '\0');
  sodium_bin2base64(out.data(), out.size(), bin, n, kB64Variant);
  out.resize(out.size() - 1);  // the encoder writes a trailing NUL
  return out;
}

std::string RandomBase64Url(size_t n_bytes) {
  std::array<unsigned char, 64> buf{};
  RandomBytes(buf.data(), n_bytes);
  std::string out = Base64Url(buf.data(), n_bytes);
  sodium_memzero(buf.data(), buf.size());
  return out;
}

// 1 for each byte of the base64url alphabet. A table, not a chain of
// range tests: every request's session id is checked, and with the range
// tests ValidateSessionId was 1.5% of a LOAD's perf samples (0.8% with the
// table, docs/benchmarks.md).
constexpr std::array<uint8_t, 256> kBase64UrlChar = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    t[c] = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_';
  }
  return t;
}();

// Printable ASCII without space: what keys and queue names may contain.
bool IsGraphic(char c) { return c > 0x20 && c < 0x7f; }

void CutMetadata(Session& s) {
  s.ip = CutUtf8(std::move(s.ip), kMaxIpBytes);
  s.user_agent = CutUtf8(std::move(s.user_agent), kMaxUserAgentBytes);
}

Status CheckSize(const Session& s, size_t max_data_bytes) {
  size_t bytes = DataBytes(s);
  if (bytes > max_data_bytes) {
    return Status(Code::kTooLarge, "session data is " + std::to_string(bytes) +
                                       " bytes, over the cap of " +
                                       std::to_string(max_data_bytes));
  }
  return Status::Ok();
}

// DBSC steps (DbscChange in session.h). Refusals carry the details a
// caller picks its HTTP answer by (docs/dbsc.md, "Errors").
Status DbscProofRefused(const char* reason, std::string message) {
  return Status(Code::kBadMac, std::move(message),
                std::string(R"({"proof":")") + reason + "\"}");
}

Status DbscNoBinding(std::string message) {
  return Status(Code::kNotFound, std::move(message),
                R"({"reason":"no_binding"})");
}

Status DbscAlreadyBound() {
  return Status(Code::kInvalidArgument,
                "the session is already bound to a device key",
                R"({"reason":"already_bound"})");
}

void DropExpired(std::vector<DbscChallenge>& list, int64_t now) {
  std::erase_if(list,
                [now](const DbscChallenge& c) { return c.expires_at <= now; });
}

// Appends `c`, dropping the oldest beyond `max`.
void PushChallenge(std::vector<DbscChallenge>& list, DbscChallenge c,
                   size_t max) {
  list.push_back(std::move(c));
  if (list.size() > max) list.erase(list.begin(), list.end() - max);
}

// Removes the challenge `value` from `list` (constant-time comparison of
// each: the value is a secret the browser proves it signed). `expired`
// holds the challenges already dropped as expired, to tell "too late" from
// "never issued".
Status Consume(std::vector<DbscChallenge>& list,
               const std::vector<DbscChallenge>& expired,
               std::string_view value) {
  auto same = [value](const DbscChallenge& c) {
    return c.value.size() == value.size() && !value.empty() &&
           sodium_memcmp(c.value.data(), value.data(), value.size()) == 0;
  };
  auto it = std::find_if(list.begin(), list.end(), same);
  if (it != list.end()) {
    list.erase(it);
    return Status::Ok();
  }
  if (std::any_of(expired.begin(), expired.end(), same)) {
    return DbscProofRefused("challenge_expired",
                            "dbsc challenge_expired: the proof answers a "
                            "challenge that has expired");
  }
  return DbscProofRefused("wrong_challenge",
                          "dbsc wrong_challenge: the proof answers no "
                          "challenge this session has outstanding (unknown, "
                          "already used, or another session's)");
}

std::vector<DbscChallenge> ExpiredOf(const std::vector<DbscChallenge>& list,
                                     int64_t now) {
  std::vector<DbscChallenge> out;
  for (const DbscChallenge& c : list) {
    if (c.expires_at <= now) out.push_back(c);
  }
  return out;
}

Status ApplyDbscChange(Session& next, const DbscChange& change) {
  const int64_t now = change.now_us / 1'000'000;
  switch (change.kind) {
    case DbscChange::Kind::kOffer:
      if (next.dbsc) return DbscAlreadyBound();
      DropExpired(next.dbsc_offers, now);
      PushChallenge(next.dbsc_offers, change.challenge, kMaxDbscOffers);
      return Status::Ok();
    case DbscChange::Kind::kRegister: {
      if (next.dbsc) return DbscAlreadyBound();
      const auto expired = ExpiredOf(next.dbsc_offers, now);
      DropExpired(next.dbsc_offers, now);
      SESSIOND_RETURN_IF_ERROR(
          Consume(next.dbsc_offers, expired, change.consume));
      DbscBinding binding = change.binding;
      binding.challenges.clear();
      if (!change.challenge.value.empty()) {
        binding.challenges.push_back(change.challenge);
      }
      next.dbsc = std::move(binding);
      next.dbsc_offers.clear();
      return Status::Ok();
    }
    case DbscChange::Kind::kChallenge:
      if (!next.dbsc || next.dbsc->dbsc_id != change.dbsc_id) {
        return DbscNoBinding("no device binding " + change.dbsc_id +
                             " on this session");
      }
      DropExpired(next.dbsc->challenges, now);
      PushChallenge(next.dbsc->challenges, change.challenge,
                    kMaxDbscChallenges);
      return Status::Ok();
    case DbscChange::Kind::kRefresh: {
      if (!next.dbsc || next.dbsc->dbsc_id != change.dbsc_id) {
        return DbscNoBinding("no device binding " + change.dbsc_id +
                             " on this session");
      }
      DbscBinding& b = *next.dbsc;
      const auto expired = ExpiredOf(b.challenges, now);
      DropExpired(b.challenges, now);
      SESSIOND_RETURN_IF_ERROR(Consume(b.challenges, expired, change.consume));
      b.proven_at_us = change.now_us;
      b.refreshed_at = now;
      ++b.refresh_count;
      if (!change.challenge.value.empty()) {
        PushChallenge(b.challenges, change.challenge, kMaxDbscChallenges);
      }
      return Status::Ok();
    }
  }
  return Status::Ok();
}

}  // namespace

bool IsUtf8(std::string_view s) {
  size_t i = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  while (i < n) {
    // Eight ASCII bytes at a time: every reply's JSON passes through here.
    uint64_t word;
    if (n - i >= 8 &&
        (std::memcpy(&word, p + i, 8), (word & 0x8080808080808080u) == 0)) {
      i += 8;
      continue;
    }
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

std::string CutUtf8(std::string s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  size_t n = max_bytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  return s;
}


namespace {

// The installed user tag key, in guarded memory. Written once at start
// (InstallUserTagKey, before other threads exist) or lazily with a random
// key under the once_flag; read-only after that.
SecretBytes& UserTagKeyStorage() {
  static SecretBytes* key = new SecretBytes();  // lives until exit
  return *key;
}
std::once_flag user_tag_key_once;

const SecretBytes& UserTagKey() {
  std::call_once(user_tag_key_once, [] {
    SecretBytes& key = UserTagKeyStorage();
    if (key.empty()) {
      key = SecretBytes(kUserTagKeyBytes);
      RandomBytes(key.data(), key.size());
    }
  });
  return UserTagKeyStorage();
}

std::array<unsigned char, crypto_auth_hmacsha256_BYTES> UserTagMac(
    std::string_view data) {
  const SecretBytes& key = UserTagKey();
  std::array<unsigned char, crypto_auth_hmacsha256_BYTES> mac{};
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, key.data(), key.size());
  crypto_auth_hmacsha256_update(
      &state, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  crypto_auth_hmacsha256_final(&state, mac.data());  // wipes the state
  return mac;
}

}  // namespace

void InstallUserTagKey(std::span<const uint8_t, kUserTagKeyBytes> key) {
  EnsureSodium();
  UserTagKeyStorage() = std::string_view(
      reinterpret_cast<const char*>(key.data()), key.size());
  std::call_once(user_tag_key_once, [] {});  // installed: no random key
}

bool IsInstalledUserTagKey(std::span<const uint8_t, kUserTagKeyBytes> key) {
  const SecretBytes& installed = UserTagKey();
  return installed.size() == key.size() &&
         sodium_memcmp(installed.data(), key.data(), key.size()) == 0;
}

std::string UserTagKeyFingerprint() {
  EnsureSodium();
  const auto mac = UserTagMac("sessiond user tag key fingerprint");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < 6; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 0xf];
  }
  return out;
}

std::string UserTag(std::string_view user_id) {
  EnsureSodium();
  const auto mac = UserTagMac(user_id);
  return Base64Url(mac.data(), mac.size()).substr(0, kSessionTagChars);
}

std::string EventSessionHash(std::string_view session_id) {
  EnsureSodium();
  std::string data("\0sessiond event subject\0", 24);
  data.append(session_id);
  const auto mac = UserTagMac(data);
  return Base64Url(mac.data(), 16);
}

std::string LegacyUserTag(std::string_view user_id) {
  EnsureSodium();
  std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256(digest.data(),
                     reinterpret_cast<const unsigned char*>(user_id.data()),
                     user_id.size());
  return Base64Url(digest.data(), digest.size()).substr(0, kSessionTagChars);
}

std::string NewSessionId(std::string_view user_id) {
  EnsureSodium();
  std::string id =
      user_id.empty() ? RandomBase64Url(kTagRandomBytes) : UserTag(user_id);
  id += RandomBase64Url(kIdRandomBytes);
  return id;
}

std::string NewCsrfToken() {
  EnsureSodium();
  return RandomBase64Url(kCsrfRandomBytes);
}

std::string_view SessionTag(std::string_view session_id) {
  return session_id.substr(0, std::min(session_id.size(), kSessionTagChars));
}

Status ValidateSessionId(std::string_view id) {
  if (id.size() != kSessionIdChars) {
    return InvalidArgument("session id must be " +
                           std::to_string(kSessionIdChars) +
                           " characters, got " + std::to_string(id.size()));
  }
  // One lookup per byte and no branch per byte.
  uint8_t all = 1;
  for (char c : id) all &= kBase64UrlChar[static_cast<unsigned char>(c)];
  if (all == 0) return InvalidArgument("session id is not base64url");
  return Status::Ok();
}

Status ValidateUserId(std::string_view user_id) {
  if (user_id.empty()) return InvalidArgument("user id is empty");
  if (user_id.size() > kMaxUserIdBytes) {
    return InvalidArgument("user id is longer than " +
                           std::to_string(kMaxUserIdBytes) + " bytes");
  }
  for (char c : user_id) {
    if (!IsGraphic(c) || c == '{' || c == '}') {
      return InvalidArgument(
          "user id may hold only printable ASCII without space, '{' or '}'");
    }
  }
  return Status::Ok();
}

Status ValidateKey(std::string_view key) {
  if (key.empty()) return InvalidArgument("data key is empty");
  if (key.size() > kMaxKeyBytes) {
    return InvalidArgument("data key is longer than " +
                           std::to_string(kMaxKeyBytes) + " bytes");
  }
  if (!std::all_of(key.begin(), key.end(), IsGraphic)) {
    return InvalidArgument(
        "data key may hold only printable ASCII without space");
  }
  return Status::Ok();
}

Status ValidateFlashQueue(std::string_view queue) {
  if (queue.size() > kMaxKeyBytes) {
    return InvalidArgument("flash queue name is longer than " +
                           std::to_string(kMaxKeyBytes) + " bytes");
  }
  if (!std::all_of(queue.begin(), queue.end(), IsGraphic)) {
    return InvalidArgument(
        "flash queue name may hold only printable ASCII without space");
  }
  return Status::Ok();
}

Status ValidateChangeSet(const ChangeSet& changes) {
  for (const auto& [key, value] : changes.set) {
    SESSIOND_RETURN_IF_ERROR(ValidateKey(key));
    if (!IsUtf8(value))
      return InvalidArgument("value of '" + key + "' is not UTF-8");
    if (changes.erase.count(key) != 0) {
      return InvalidArgument("key '" + key + "' is both set and erased");
    }
  }
  for (const auto& key : changes.erase) {
    SESSIOND_RETURN_IF_ERROR(ValidateKey(key));
  }
  for (const auto& f : changes.flash_push) {
    SESSIOND_RETURN_IF_ERROR(ValidateFlashQueue(f.queue));
    if (!IsUtf8(f.message))
      return InvalidArgument("flash message is not UTF-8");
  }
  return Status::Ok();
}

size_t DataBytes(const Session& s) {
  size_t n = 0;
  for (const auto& [key, value] : s.data) n += key.size() + value.size();
  for (const auto& f : s.flash) n += f.queue.size() + f.message.size();
  return n;
}

Status CheckCsrf(const Session& s, std::string_view presented) {
  // The length of a token is not secret (it is fixed), so checking it first
  // leaks nothing; the bytes are compared in constant time.
  if (s.csrf_token.empty() || presented.empty() ||
      presented.size() != s.csrf_token.size() ||
      sodium_memcmp(s.csrf_token.data(), presented.data(), presented.size()) !=
          0) {
    return Status(Code::kCsrfMismatch, "CSRF token does not match");
  }
  return Status::Ok();
}

Status ValidateLoginRequest(const LoginRequest& request) {
  if (request.keep_user) return Status::Ok();
  return ValidateUserId(request.user_id);
}

Status ApplyChangeSet(Session& s, const ChangeSet& changes,
                      size_t max_data_bytes) {
  SESSIOND_RETURN_IF_ERROR(ValidateChangeSet(changes));
  if (changes.presented) {
    SESSIOND_RETURN_IF_ERROR(CheckPresentedCookie(s, *changes.presented));
  }
  if (changes.rotate_cookie &&
      changes.rotate_cookie->from_us != CurrentCookieUs(s)) {
    return Conflict("the cookie was rotated by another request");
  }
  if (changes.base_version > s.version) {
    return Status(Code::kConflict, "base version " +
                                       std::to_string(changes.base_version) +
                                       " is ahead of the session's " +
                                       std::to_string(s.version));
  }
  auto changed_since_base = [&](const std::string& key) {
    auto it = s.key_versions.find(key);
    return it != s.key_versions.end() && it->second > changes.base_version;
  };
  for (const auto& [key, value] : changes.set) {
    if (changed_since_base(key)) {
      return Status(Code::kConflict, "key '" + key +
                                         "' changed since version " +
                                         std::to_string(changes.base_version));
    }
  }
  for (const auto& key : changes.erase) {
    if (changed_since_base(key)) {
      return Status(Code::kConflict, "key '" + key +
                                         "' changed since version " +
                                         std::to_string(changes.base_version));
    }
  }

  // Build the result on a copy so that an error leaves s untouched.
  Session next = s;
  const uint64_t version = s.version + 1;
  for (const auto& [key, value] : changes.set) {
    next.data[key] = value;
    next.key_versions[key] = version;
  }
  for (const auto& key : changes.erase) {
    // Erasing a key that never existed is a no-op with nothing to conflict
    // with later, so it leaves no version behind (keeps records small).
    if (next.data.erase(key) != 0 || next.key_versions.count(key) != 0) {
      next.key_versions[key] = version;
    }
  }
  next.flash.insert(next.flash.end(), changes.flash_push.begin(),
                    changes.flash_push.end());
  if (changes.rotate_csrf) next.csrf_token = NewCsrfToken();
  if (const auto& r = changes.rotate_cookie) {
    next.previous_cookie_issued_us = r->from_us;
    next.previous_cookie_until = r->previous_until;
    next.cookie_issued_us = r->to_us;
  }
  if (changes.dbsc) {
    SESSIOND_RETURN_IF_ERROR(ApplyDbscChange(next, *changes.dbsc));
  }
  SESSIOND_RETURN_IF_ERROR(CheckSize(next, max_data_bytes));
  next.version = version;
  s = std::move(next);
  return Status::Ok();
}

bool IsExpired(const Session& s, int64_t now) {
  if (s.expires_at != 0 && now >= s.expires_at) return true;
  if (s.idle_timeout > 0 && now >= s.last_seen_at + s.idle_timeout) {
    return true;
  }
  return false;
}

Status PrepareNewSession(Session& s, size_t max_data_bytes) {
  SESSIOND_RETURN_IF_ERROR(ValidateSessionId(s.id));
  if (!s.user_id.empty()) SESSIOND_RETURN_IF_ERROR(ValidateUserId(s.user_id));
  if (s.csrf_token.empty()) return InvalidArgument("session has no CSRF token");
  if (s.expires_at <= 0)
    return InvalidArgument("session has no absolute expiry");
  if (s.idle_timeout < 0) return InvalidArgument("idle timeout is negative");
  for (const auto& [key, value] : s.data) {
    SESSIOND_RETURN_IF_ERROR(ValidateKey(key));
    if (!IsUtf8(value))
      return InvalidArgument("value of '" + key + "' is not UTF-8");
  }
  for (const auto& f : s.flash) {
    SESSIOND_RETURN_IF_ERROR(ValidateFlashQueue(f.queue));
    if (!IsUtf8(f.message))
      return InvalidArgument("flash message is not UTF-8");
  }
  SESSIOND_RETURN_IF_ERROR(CheckSize(s, max_data_bytes));
  CutMetadata(s);
  if (s.last_seen_at == 0) s.last_seen_at = s.created_at;
  s.version = 1;
  s.key_versions.clear();
  for (const auto& [key, value] : s.data) s.key_versions[key] = 1;
  return Status::Ok();
}

Session LoginSession(const Session& old, const LoginRequest& request,
                     int64_t now_us) {
  Session next = old;
  const std::string& user = request.keep_user ? old.user_id : request.user_id;
  if (!old.user_id.empty() && old.user_id != user) {
    next.data.clear();
    next.key_versions.clear();
    next.flash.clear();
    // The device binding was the other user's session's (docs/dbsc.md).
    next.dbsc.reset();
    next.dbsc_offers.clear();
  }
  next.id = NewSessionId(user);
  next.user_id = user;
  next.csrf_token = NewCsrfToken();
  next.issued_at_us = now_us;
  next.last_seen_at = now_us / 1'000'000;
  if (!request.keep_user) next.authenticated_at = next.last_seen_at;
  if (!request.ip.empty()) next.ip = request.ip;
  if (!request.user_agent.empty()) next.user_agent = request.user_agent;
  CutMetadata(next);
  next.version = old.version + 1;
  next.cookie_issued_us = 0;
  next.previous_cookie_issued_us = 0;
  next.previous_cookie_until = 0;
  return next;
}

bool NeedsTouch(const Session& s, int64_t now, int64_t touch_interval_s) {
  return now - s.last_seen_at >= std::max<int64_t>(touch_interval_s, 1);
}

bool RevokedByEpoch(const Session& s, int64_t epoch_us) {
  return !s.user_id.empty() && s.issued_at_us < epoch_us;
}

CookieStanding StandingOf(const Session& s, const PresentedCookie& presented) {
  if (presented.issued_at_us == CurrentCookieUs(s)) {
    return CookieStanding::kCurrent;
  }
  if (s.previous_cookie_issued_us != 0 &&
      presented.issued_at_us == s.previous_cookie_issued_us &&
      presented.now < s.previous_cookie_until) {
    return CookieStanding::kPrevious;
  }
  return CookieStanding::kReused;
}

namespace {
constexpr std::string_view kReuseMessage =
    "a rotated cookie came back after its grace period";
}  // namespace

Status CheckPresentedCookie(const Session& s,
                            const PresentedCookie& presented) {
  if (StandingOf(s, presented) != CookieStanding::kReused) return Status::Ok();
  return RevokedStatus(std::string(kReuseMessage), EndReason::kReuseDetected,
                       presented.now);
}

Status CheckLoginCookie(const Session& old, const LoginRequest& request) {
  if (!request.presented) return Status::Ok();
  return CheckPresentedCookie(old, *request.presented);
}

bool IsCookieReuse(const Status& st) {
  return st.code() == Code::kRevoked && st.message() == kReuseMessage;
}

namespace {

// Every reason with its wire name, in numbering order.
constexpr std::array<std::pair<EndReason, std::string_view>, 8> kEndReasons = {{
    {EndReason::kLogout, "logout"},
    {EndReason::kLogin, "login"},
    {EndReason::kSignedOutElsewhere, "signed_out_elsewhere"},
    {EndReason::kPasswordChanged, "password_changed"},
    {EndReason::kAdmin, "admin"},
    {EndReason::kSessionLimit, "session_limit"},
    {EndReason::kReuseDetected, "reuse_detected"},
    {EndReason::kDeviceBinding, "device_binding"},
}};

}  // namespace

std::string_view EndReasonName(EndReason reason) {
  for (const auto& [r, name] : kEndReasons) {
    if (r == reason) return name;
  }
  return {};
}

std::optional<EndReason> EndReasonFromName(std::string_view name) {
  for (const auto& [r, n] : kEndReasons) {
    if (n == name) return r;
  }
  return std::nullopt;
}

EndReason EndReasonFromNumber(uint8_t number) {
  for (const auto& [r, name] : kEndReasons) {
    if (static_cast<uint8_t>(r) == number) return r;
  }
  return EndReason::kUnknown;
}

Status RevokedStatus(std::string message, EndReason reason, int64_t at) {
  const std::string_view name = EndReasonName(reason);
  if (name.empty()) return Status(Code::kRevoked, std::move(message));
  // The names are fixed ASCII words and `at` an integer: nothing to escape.
  std::string details = "{\"reason\":\"";
  details += name;
  details += "\",\"at\":";
  details += std::to_string(at);
  details += '}';
  return Status(Code::kRevoked, std::move(message), std::move(details));
}

Status EpochRevokedStatus(const UserEpoch& epoch) {
  return RevokedStatus("session predates the user's epoch", epoch.reason,
                       epoch.us / 1'000'000);
}

std::vector<std::string> PopFlash(Session& s, std::string_view queue) {
  std::vector<std::string> out;
  std::vector<FlashMessage> keep;
  for (auto& f : s.flash) {
    if (f.queue == queue) {
      out.push_back(std::move(f.message));
    } else {
      keep.push_back(std::move(f));
    }
  }
  s.flash = std::move(keep);
  if (!out.empty()) ++s.version;
  return out;
}

}  // namespace sessiond
